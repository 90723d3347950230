from __future__ import annotations

from knowledge_base.enrich import restore_time_units
from knowledge_base.schema import Channel, Duration, Procedure


def _procedure(steps: list[str], *times: Duration | None) -> Procedure:
    kinds = ["online", "in_person", "post"]
    return Procedure(
        code="1.000001",
        name="Thủ tục thử",
        channels=[Channel(kind=kinds[i], time=t) for i, t in enumerate(times)],
        steps=steps,
    )


def test_unit_is_restored_from_the_steps() -> None:
    p = _procedure(["Bước 2: Trong thời hạn 01 ngày làm việc, công chức tư pháp trình Chủ tịch."], Duration(value=1))
    fixed = restore_time_units(p)
    assert fixed.channels[0].time.unit == "ngày làm việc"
    assert fixed.channels[0].time.value == 1
    assert any("inferred" in note for note in fixed.parse_issues)


def test_ambiguous_units_are_left_alone() -> None:
    steps = ["Trong 03 ngày làm việc thẩm định hồ sơ.", "Niêm yết trong 03 tháng."]
    p = _procedure(steps, Duration(value=3))
    assert restore_time_units(p) == p


def test_number_absent_from_the_steps_is_left_alone() -> None:
    p = _procedure(["Trong thời hạn 05 ngày làm việc."], Duration(value=2))
    assert restore_time_units(p).channels[0].time.unit is None


def test_times_with_units_and_channels_without_time_are_untouched() -> None:
    p = _procedure(["Trong 07 ngày."], Duration(value=7, unit="ngày làm việc", text="7 ngày làm việc"), None)
    assert restore_time_units(p) == p
