"""Tests for ``knowledge_base/data/aliases.yml``: colloquial names for portal procedures outside the ward corpus."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge_base.corpus import load_ward_corpus
from knowledge_base.text import fold, nfc

REPO = Path(__file__).resolve().parents[2]
ALIASES_FILE = REPO / "knowledge_base" / "data" / "aliases.yml"
CORPUS_DIR = REPO / "knowledge_base" / "procedures"
DUMP = REPO.parent / "shared" / "data" / "tthc-portal" / "procedures.jsonl.gz"

CODE = re.compile(r"^\d\.\d{6}$")
MIN_ALIASES, MAX_ALIASES = 3, 10
#: An alias is what a citizen types into a search box, not a sentence.
MAX_WORDS = 10
SENTENCE_PUNCTUATION = re.compile(r"[.?!;:]")


@pytest.fixture(scope="module")
def entries() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALIASES_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, list), "aliases.yml must be a list of {code, aliases} entries"
    return data


def test_file_parses_into_code_and_alias_entries(entries: list[dict[str, Any]]) -> None:
    assert len(entries) >= 50
    for entry in entries:
        assert isinstance(entry, dict)
        assert set(entry) == {"code", "aliases"}, entry
        assert isinstance(entry["code"], str), f"quote the code: {entry['code']!r}"
        assert isinstance(entry["aliases"], list), entry["code"]


def test_codes_are_valid_and_unique(entries: list[dict[str, Any]]) -> None:
    codes = [entry["code"] for entry in entries]
    bad = [code for code in codes if not CODE.match(code)]
    assert not bad, f"codes not in the d.dddddd form: {bad}"
    repeated = [code for code, count in Counter(codes).items() if count > 1]
    assert not repeated, f"codes listed twice: {repeated}"


def test_each_entry_has_between_three_and_ten_aliases(entries: list[dict[str, Any]]) -> None:
    wrong = {e["code"]: len(e["aliases"]) for e in entries if not MIN_ALIASES <= len(e["aliases"]) <= MAX_ALIASES}
    assert not wrong, f"alias counts outside {MIN_ALIASES}-{MAX_ALIASES}: {wrong}"


def test_aliases_are_nonempty_nfc_short_phrases(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        for alias in entry["aliases"]:
            assert isinstance(alias, str) and alias.strip(), (entry["code"], alias)
            assert alias == alias.strip(), (entry["code"], alias)
            assert nfc(alias) == alias, f"{entry['code']}: not NFC: {alias!r}"
            assert len(alias.split()) <= MAX_WORDS, f"{entry['code']}: too long for an alias: {alias!r}"
            assert not SENTENCE_PUNCTUATION.search(alias), f"{entry['code']}: looks like a sentence: {alias!r}"


def test_no_duplicate_aliases_within_an_entry_after_folding(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        folded = Counter(fold(alias) for alias in entry["aliases"])
        repeated = [alias for alias, count in folded.items() if count > 1]
        assert not repeated, f"{entry['code']}: same alias with and without diacritics: {repeated}"


def test_aliases_tell_procedures_apart(entries: list[dict[str, Any]]) -> None:
    """One folded alias under two codes would make retrieval unable to choose between them."""
    owners: dict[str, set[str]] = {}
    for entry in entries:
        for alias in entry["aliases"]:
            owners.setdefault(fold(alias), set()).add(entry["code"])
    shared = {alias: sorted(codes) for alias, codes in owners.items() if len(codes) > 1}
    assert not shared, f"aliases shared between procedures: {shared}"


def test_no_code_belongs_to_the_ward_corpus(entries: list[dict[str, Any]]) -> None:
    ward_codes = {procedure.code for procedure in load_ward_corpus(CORPUS_DIR)}
    overlap = sorted({entry["code"] for entry in entries} & ward_codes)
    assert not overlap, f"these codes have curated aliases in knowledge_base/procedures already: {overlap}"


@pytest.mark.shared_data
def test_every_code_exists_in_the_portal_dump_and_no_alias_copies_its_name(
    entries: list[dict[str, Any]],
) -> None:
    if not DUMP.is_file():
        pytest.skip(f"needs the shared portal dump at {DUMP}")
    names: dict[str, str] = {}
    with gzip.open(DUMP, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                names[record["ma_thu_tuc"]] = record["ten_thu_tuc"]
    missing = [entry["code"] for entry in entries if entry["code"] not in names]
    assert not missing, f"codes not in the portal dump: {missing}"
    for entry in entries:
        official = fold(" ".join(names[entry["code"]].split()))
        copied = [alias for alias in entry["aliases"] if fold(alias) == official]
        assert not copied, f"{entry['code']}: alias repeats the official name: {copied}"
