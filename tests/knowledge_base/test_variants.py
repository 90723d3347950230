from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.text import RulesError
from knowledge_base.variants import cued_markers, load_variant_cues, name_markers


@pytest.mark.parametrize(
    ("question", "markers"),
    [
        ("mất giấy đăng ký kết hôn, xin bản sao ở đâu", {"ban sao"}),
        ("xin lai ban khac dc ko", {"ban sao"}),
        ("chuyen tro roi, xoa tam tru cho cu ntn", {"xoa"}),
        ("bố mất rồi, cắt khẩu cho bố thế nào", {"xoa"}),
        ("quán e không làm nữa, đóng cửa hẳn thì làm gì", {"cham dut"}),
        ("tiệm ế quá, muốn trả lại giấy phép kinh doanh", {"cham dut"}),
        ("cháu đủ 18 tuổi rồi, việc giám hộ tự hết hay tôi phải làm gì", {"cham dut"}),
        ("đăng ký giám hộ cho cháu cần gì", set()),
        ("tạm trú sắp hết hạn, gia hạn thế nào", {"gia han"}),
        ("thẻ căn cước hết hạn", set()),  # a situation, not the extension
        ("tiệm tạm nghỉ 3 tháng", {"tam ngung"}),
        ("quán phở nghỉ hai tháng vì phải đi mổ", {"tam ngung"}),
        ("tiệm đóng cửa một thời gian rồi mở lại", {"tam ngung"}),
        ("đăng ký tạm trú cần gì", set()),
        ("xoài", set()),  # whole syllables only: "xoai" is not "xoa"
        ("quê thì đã bị xóa thường trú rồi, giờ khai báo cư trú ở đâu", set()),  # what happened, not asked
        ("bị xóa rồi, giờ xóa luôn tạm trú chỗ cũ", {"xoa"}),
        ("hợp đồng đã chứng thực, nay hai bên thỏa thuận hủy hợp đồng", {"huy bo"}),
        ("làm ăn thua lỗ, tôi tính dẹp hẳn, không bán nữa", {"cham dut"}),
        ("quan e k kinh doanh nua", {"cham dut"}),  # teencode "k" is "không"
        ("tiệm bị dẹp hẳn vì giải tỏa", set()),  # what happened to the citizen
        ("hop dong tang cho da chung thuc, gio 2 ben thong nhat huy", {"huy bo"}),
        ("nếu sau này hai bên muốn hủy thì sao", {"huy bo"}),
        ("tiem sua xe chuyen sang mat bang moi, co phai khai bao ko", {"thay doi noi dung"}),
        ("chuyển sang phòng trọ khác thì đăng ký tạm trú lại", set()),  # moving house is no business change
    ],
)
def test_questions_cue_the_markers_of_their_action(question: str, markers: set[str]) -> None:
    assert cued_markers(question) == markers


@pytest.mark.parametrize(
    ("name", "markers"),
    [
        ("Cấp bản sao Trích lục hộ tịch, bản sao Giấy khai sinh", {"ban sao"}),
        ("Xóa đăng ký tạm trú", {"xoa"}),
        ("Đăng ký chấm dứt giám hộ", {"cham dut"}),
        ("Gia hạn tạm trú", {"gia han"}),
        ("Đăng ký tạm trú", set()),
        ("Chứng thực việc sửa đổi, bổ sung, hủy bỏ giao dịch", {"huy bo"}),
        ("Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", {"thay doi noi dung"}),
    ],
)
def test_procedure_names_hold_markers(name: str, markers: set[str]) -> None:
    assert name_markers(name) == markers


def test_every_marker_is_cued_by_itself() -> None:
    for marker, cues in load_variant_cues():
        assert marker in cues


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "non-empty list"),
        ("- marker: xóa\n", "exactly the keys"),
        ("- marker: xóa\n  cues: []\n", "non-empty list"),
        ("- marker: xóa\n  cues: ['...']\n", "no letters"),
        ("- marker: xóa\n  cues: [xóa]\n  note: x\n", "exactly the keys"),
    ],
)
def test_bad_cue_files_are_refused_with_the_entry(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "variant_cues.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RulesError, match=message):
        load_variant_cues(path)
