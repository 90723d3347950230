"""Tests for knowledge_base.nlp with the real underthesea segmenter and a real spaCy pipeline."""

from __future__ import annotations

import unicodedata

import pytest

from knowledge_base.nlp import Fact, extract_facts, segment, segment_with_offsets, sentences
from knowledge_base.text import fold, normalize


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tôi muốn Đăng ký khai sinh.", ["tôi", "muốn", "đăng_ký", "khai_sinh"]),
        (nfd("Tôi muốn đăng ký khai sinh"), ["tôi", "muốn", "đăng_ký", "khai_sinh"]),
        ("Hoà giải", ["hòa_giải"]),
        ("hòa giải", ["hòa_giải"]),  # both tone styles give the same words
        (nfd("sức khỏe"), ["sức_khỏe"]),
        ("theo 123/2015/NĐ-CP, phí 50k", ["theo", "123/2015/nđ-cp", "phí", "50k"]),
        ("", []),
        ("😀 !!!", []),
    ],
)
def test_segment(text: str, expected: list[str]) -> None:
    assert segment(text) == expected


def test_segment_keeps_every_syllable_in_order() -> None:
    text = "Làm giấy chứng nhận quyền sử dụng đất mất bao lâu, ở đâu?"
    words = segment(text)
    assert "_".join(words).replace("_", " ") == normalize(text)
    assert any("_" in word for word in words)


def test_segment_never_joins_across_punctuation() -> None:
    words = segment("hồ sơ, giấy tờ")
    assert "sơ_giấy" not in "|".join(words)
    assert "_".join(words).replace("_", " ") == "hồ sơ giấy tờ"


@pytest.mark.parametrize(
    "text",
    [
        "Đăng ký khai sinh cho con ở Phường Bến Nghé!",
        nfd("Tôi muốn đăng ký  thường trú cho con 👶 ở Phường 3, Quận 1"),
        nfd("Hoà giải tranh chấp đất đai theo Nghị định 123/2015/NĐ-CP."),
        "toi muon dang ky ket hon o phuong, mat bao lau?",
        "  LÀM SỔ ĐỎ Ở ĐÂU???  ",
    ],
)
def test_segment_offsets_slice_back_to_the_original(text: str) -> None:
    words = segment_with_offsets(text)
    assert words
    for word, start, end in words:
        assert text[start:end] == word
        assert word == word.strip()
    starts = [start for _, start, _ in words]
    assert starts == sorted(starts)
    ends = [end for _, _, end in words]
    assert all(end <= next_start for end, next_start in zip(ends, starts[1:]))
    # Same words as segment(), only located in the original text.
    assert [normalize(word).replace(" ", "_") for word, _, _ in words] == segment(text)


def test_segment_offsets_on_decomposed_text_point_at_whole_characters() -> None:
    text = nfd("Đăng ký khai sinh")
    words = segment_with_offsets(text)
    assert [unicodedata.normalize("NFC", w) for w, _, _ in words] == ["Đăng ký", "khai sinh"]
    assert words[0][1] == 0 and words[-1][2] == len(text)


def test_segment_offsets_without_diacritics() -> None:
    text = "lam so do o dau"
    words = segment_with_offsets(text)
    assert " ".join(w for w, _, _ in words) == text
    assert all(fold(text[s:e]) == fold(w) for w, s, e in words)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bước 1: Nộp hồ sơ. Bước 2: Nhận kết quả.", ["Bước 1: Nộp hồ sơ.", "Bước 2: Nhận kết quả."]),
        (
            "Hồ sơ gồm:\n1. Tờ khai theo mẫu.\n2. Giấy chứng sinh.\nNộp tại UBND phường",
            ["Hồ sơ gồm:", "1. Tờ khai theo mẫu.", "2. Giấy chứng sinh.", "Nộp tại UBND phường"],
        ),
        (
            "Trụ sở ở TP. Hồ Chí Minh. Có thể nộp trực tuyến?",
            ["Trụ sở ở TP. Hồ Chí Minh.", "Có thể nộp trực tuyến?"],
        ),
        (
            "Lệ phí 50.000 đồng theo Nghị định 123/2015/NĐ-CP. Hết!",
            ["Lệ phí 50.000 đồng theo Nghị định 123/2015/NĐ-CP.", "Hết!"],
        ),
        ("", []),
        ("  \n\n ", []),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_sentences_on_decomposed_text() -> None:
    assert sentences(nfd("Nộp hồ sơ. Nhận kết quả.")) == ["Nộp hồ sơ.", "Nhận kết quả."]


def labelled(text: str) -> list[tuple[str, str]]:
    facts = extract_facts(text)
    for fact in facts:
        assert text[fact.start : fact.end] == fact.text
    return [(fact.label, fact.text) for fact in facts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Trong 15 ngày làm việc; lệ phí 50.000 đồng.",
            [("DURATION", "15 ngày làm việc"), ("AMOUNT", "50.000 đồng")],
        ),
        ("Thời hạn 03 ngày, có khi 2 tháng.", [("DURATION", "03 ngày"), ("DURATION", "2 tháng")]),
        ("Lệ phí: Miễn phí.", [("AMOUNT", "Miễn phí")]),
        ("Phí 7,000 Việt Nam Đồng mỗi bản", [("AMOUNT", "7,000 Việt Nam Đồng")]),
        ("phí 1.000.000 đồng hoặc 50k", [("AMOUNT", "1.000.000 đồng"), ("AMOUNT", "50k")]),
        ("Mã thủ tục 1.001193 trên cổng", [("PROCEDURE_CODE", "1.001193")]),
        (
            "theo Nghị định 123/2015/NĐ-CP và Thông tư 04/2020/TT-BTP.",
            [("LEGAL_NUMBER", "123/2015/NĐ-CP"), ("LEGAL_NUMBER", "04/2020/TT-BTP")],
        ),
        (
            "Tờ khai đăng ký khai sinh theo mẫu; Giấy chứng sinh do bệnh viện cấp; Bản sao giấy tờ tùy thân.",
            [
                ("DOCUMENT", "Tờ khai đăng ký khai sinh"),
                ("DOCUMENT", "Giấy chứng sinh"),
                ("DOCUMENT", "Bản sao giấy tờ tùy thân"),
            ],
        ),
        ("Công dân đến trụ sở đơn vị hành chính.", []),
    ],
)
def test_extract_facts(text: str, expected: list[tuple[str, str]]) -> None:
    assert labelled(text) == expected


def test_extract_facts_on_flattened_portal_table() -> None:
    # The portal's fee table loses its cell separators; facts must still come out.
    text = (
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến3 Ngày làm việc7,000 Việt Nam Đồng(Phí)"
        "Trực tiếp03 ngàyMiễn phí"
    )
    assert labelled(text) == [
        ("DURATION", "3 Ngày làm việc"),
        ("AMOUNT", "7,000 Việt Nam Đồng"),
        ("DURATION", "03 ngày"),
        ("AMOUNT", "Miễn phí"),
    ]


def test_extract_facts_returns_fact_records() -> None:
    assert extract_facts("Hạn 5 ngày") == [Fact("DURATION", "5 ngày", 4, 10)]
    assert extract_facts("") == []
