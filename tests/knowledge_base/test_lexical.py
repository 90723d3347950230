from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.lexical import LexicalIndex, analyze


@pytest.mark.parametrize(
    ("text", "must_contain"),
    [
        ("đăng ký khai sinh", {"dang", "ky", "khai", "sinh", "dang_ky", "khai_sinh"}),
        ("DANG KY KHAI SINH", {"dang_ky", "khai_sinh"}),
        ("đk khai sinh", {"dang_ky", "khai_sinh"}),  # teencode expanded before indexing
        ("nhập khẩu cho con", {"thuong_tru"}),  # colloquial term adds the official one
    ],
)
def test_analyze_folds_expands_and_makes_bigrams(text: str, must_contain: set[str]) -> None:
    assert must_contain <= set(analyze(text))


def test_analyze_drops_function_words_as_unigrams_only() -> None:
    terms = analyze("thủ tục khai sinh như thế nào")
    assert "thu" not in terms and "nao" not in terms
    assert "khai_sinh" in terms


@pytest.fixture
def small_index() -> LexicalIndex:
    return LexicalIndex.build(
        ["1.001193", "1.004884", "2.000528", "1.004222"],
        [
            ["Thủ tục đăng ký khai sinh", "làm giấy khai sinh", "khai sinh cho con", "đăng ký giấy khai sinh cho bé"],
            ["Thủ tục đăng ký lại khai sinh"],
            ["Thủ tục đăng ký khai sinh có yếu tố nước ngoài"],
            ["Đăng ký thường trú", "nhập hộ khẩu"],
        ],
        ["Hộ tịch", "Hộ tịch", "Hộ tịch", "Đăng ký, quản lý cư trú"],
    )


@pytest.mark.parametrize(
    ("question", "best"),
    [
        ("khai sinh can gi", "1.001193"),
        ("lam giay khai sinh cho be", "1.001193"),
        ("dang ky lai khai sinh", "1.004884"),
        ("chồng em người Hàn Quốc, làm khai sinh cho bé", "2.000528"),
        ("nhap khau ve nha chong", "1.004222"),
    ],
)
def test_best_match(small_index: LexicalIndex, question: str, best: str) -> None:
    scores, ceiling = small_index.scores(question)
    assert ceiling > 0
    assert small_index.codes[int(np.argmax(scores))] == best


def test_many_aliases_do_not_lower_the_name_match(small_index: LexicalIndex) -> None:
    # 1.001193 has four title variants; matched on its name alone it must still beat the longer names.
    scores, _ = small_index.scores("đăng ký khai sinh")
    assert scores[0] > scores[1] and scores[0] > scores[2]


def test_aspect_words_weigh_little(small_index: LexicalIndex) -> None:
    plain, _ = small_index.scores("đăng ký thường trú")
    with_fee, _ = small_index.scores("lệ phí đăng ký thường trú bao nhiêu")
    assert int(np.argmax(with_fee)) == int(np.argmax(plain)) == 3


def test_unknown_words_score_nothing(small_index: LexicalIndex) -> None:
    scores, ceiling = small_index.scores("xyzzy qwerty")
    assert ceiling == 0.0 and not scores.any()


def test_save_and_load_round_trip(small_index: LexicalIndex, tmp_path: Path) -> None:
    small_index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    for q in ("khai sinh", "nhap khau", "yeu to nuoc ngoai"):
        np.testing.assert_allclose(loaded.scores(q)[0], small_index.scores(q)[0], rtol=1e-6)


@pytest.mark.parametrize(
    ("codes", "titles", "bodies"),
    [(["1.000001"], [[]], ["x"]), (["1.000001", "1.000002"], [["a"]], ["x", "y"])],
)
def test_build_rejects_bad_input(codes, titles, bodies) -> None:
    with pytest.raises(ValueError):
        LexicalIndex.build(codes, titles, bodies)


def test_coverage_is_the_share_of_the_best_title_the_question_holds(small_index: LexicalIndex) -> None:
    chatty = small_index.coverage("bé nhà em mới sinh hôm qua, giờ đi làm giấy khai sinh cho bé thì cầm gì ạ")
    by_code = dict(zip(small_index.codes, chatty))
    assert by_code["1.001193"] == pytest.approx(1.0)  # every word of the alias "làm giấy khai sinh"
    assert 0 < by_code["1.004884"] < 1  # "lại" is missing from "đăng ký lại khai sinh"
    assert by_code["1.004222"] == 0.0
    assert small_index.coverage("thời tiết ngày mai").max() == 0.0
    assert small_index.coverage("").shape == (4,)
