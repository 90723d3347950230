"""Checks on the labelled citizen question sets in ``benchmarks/questions/``.

The sets measure retrieval, so a malformed row, a duplicate that leaks between dev and test, or a label
that points at a procedure code missing from the portal dump would silently bend every figure computed
from them. These tests keep the files honest.
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from knowledge_base.schema import ASPECTS, CODE_PATTERN
from knowledge_base.text import fold

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = REPO / "benchmarks" / "questions"
SPLITS = {
    "dev": (QUESTIONS / "dev.jsonl", 220),
    "test": (QUESTIONS / "test.jsonl", 110),
    "situations": (QUESTIONS / "situations.jsonl", 180),
    "other_stories": (QUESTIONS / "other_stories.jsonl", 90),
}
#: Rows of other_stories.jsonl also name what they really ask about.
EXTRA_KEYS = {"other_stories": {"topic"}}
SHARED_DATA = REPO.parent / "shared" / "data"
DUMP = SHARED_DATA / "tthc-portal" / "procedures.jsonl.gz"

STYLES = {"diacritics", "no_diacritics", "teencode", "long_story", "english", "typo", "fragment"}
MIN_UNANSWERABLE = 0.12
MIN_NO_DIACRITICS = 0.30


def _load(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            assert line.strip(), f"{path.name} line {number} is blank"
            rows.append(json.loads(line))
    return rows


def _has_no_diacritics(text: str) -> bool:
    # fold() strips marks and lowercases; equality with the lowercased text means nothing was stripped.
    return fold(text) == text.lower()


@pytest.fixture(scope="module")
def question_sets() -> dict[str, list[dict[str, Any]]]:
    return {split: _load(path) for split, (path, _) in SPLITS.items()}


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_every_row_is_well_formed(question_sets: dict[str, list[dict[str, Any]]], split: str) -> None:
    for number, row in enumerate(question_sets[split], start=1):
        where = f"{split} row {number}"
        assert set(row) == {"question", "expected", "aspect", "style"} | EXTRA_KEYS.get(split, set()), where
        assert isinstance(row["question"], str) and row["question"].strip(), where
        assert row["question"] == unicodedata.normalize("NFC", row["question"]), f"{where} is not NFC"
        assert isinstance(row["expected"], list), where
        assert all(isinstance(code, str) and CODE_PATTERN.match(code) for code in row["expected"]), where
        assert len(row["expected"]) == len(set(row["expected"])), f"{where} repeats a code"
        assert len(row["expected"]) <= 3, f"{where} lists more than 3 acceptable codes"
        assert row["aspect"] in ASPECTS, where
        assert row["style"] in STYLES, where


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_size_and_share_of_unanswerable(question_sets: dict[str, list[dict[str, Any]]], split: str) -> None:
    rows = question_sets[split]
    assert len(rows) >= SPLITS[split][1]
    unanswerable = sum(1 for row in rows if not row["expected"])
    assert unanswerable / len(rows) >= MIN_UNANSWERABLE


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_share_without_diacritics(question_sets: dict[str, list[dict[str, Any]]], split: str) -> None:
    rows = question_sets[split]
    plain = sum(1 for row in rows if _has_no_diacritics(row["question"]))
    assert plain / len(rows) >= MIN_NO_DIACRITICS


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_style_tag_matches_the_text(question_sets: dict[str, list[dict[str, Any]]], split: str) -> None:
    for row in question_sets[split]:
        if row["style"] == "no_diacritics":
            assert _has_no_diacritics(row["question"]), row["question"]
        if row["style"] == "diacritics":
            assert not _has_no_diacritics(row["question"]), row["question"]


def test_no_duplicate_questions_within_or_across_files(
    question_sets: dict[str, list[dict[str, Any]]],
) -> None:
    seen: dict[str, str] = {}
    for split, rows in question_sets.items():
        for row in rows:
            # Compare folded and whitespace-normalised, so a copy differing only in accents also counts.
            key = " ".join(fold(row["question"]).split())
            assert key not in seen, f"{row['question']!r} in {split} repeats a question in {seen.get(key)}"
            seen[key] = split


def test_the_other_stories_are_all_unanswerable_and_long(
    question_sets: dict[str, list[dict[str, Any]]],
) -> None:
    for row in question_sets["other_stories"]:
        assert row["expected"] == [] and row["topic"].strip(), row["question"]
        assert len(row["question"].split()) >= 20, row["question"]


def test_fold_detects_diacritics_as_the_checks_assume() -> None:
    assert _has_no_diacritics("lam cccd het bao nhieu tien")
    assert _has_no_diacritics("How do I register temporary residence")
    assert not _has_no_diacritics("làm căn cước")
    assert not _has_no_diacritics("dang ky o đau")  # a lone đ counts as a diacritic


@pytest.mark.shared_data
def test_every_expected_code_exists_in_the_dump(question_sets: dict[str, list[dict[str, Any]]]) -> None:
    if not DUMP.exists():
        pytest.skip(f"shared data not found: {DUMP}")
    with gzip.open(DUMP, "rt", encoding="utf-8") as handle:
        codes = {json.loads(line)["ma_thu_tuc"] for line in handle if line.strip()}
    missing = sorted(
        {code for rows in question_sets.values() for row in rows for code in row["expected"]} - codes
    )
    assert not missing, f"codes not in the dump: {missing}"
