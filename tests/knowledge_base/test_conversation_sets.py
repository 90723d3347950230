"""Checks on the labelled conversation sets in ``benchmarks/conversations/`` (format: its README).

Every end-to-end figure in benchmarks/dialogue.md is computed from these files, so a label naming a
procedure the ward corpus lacks, an unknown aspect, an id shared by two sets or a wrong style tag would
bend it silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from knowledge_base.schema import ASPECTS
from knowledge_base.text import fold

REPO = Path(__file__).resolve().parents[2]
CONVERSATIONS = REPO / "benchmarks" / "conversations"
SETS = sorted(CONVERSATIONS.glob("*.jsonl"))
WARD_CODES = {
    yaml.safe_load(path.read_text(encoding="utf-8"))["code"]
    for path in (REPO / "knowledge_base" / "procedures").glob("*.yaml")
}
KINDS = {"answer", "answer_or_clarify", "handoff", "any"}


def _conversations(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_there_are_sets_to_check() -> None:
    assert {"dev.jsonl", "heldout.jsonl", "heldout14.jsonl"} <= {path.name for path in SETS}


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.stem)
def test_every_turn_is_labelled_in_the_format(path: Path) -> None:
    for conversation in _conversations(path):
        assert conversation["turns"], conversation["id"]
        for turn in conversation["turns"]:
            expect = turn["expect"]
            assert turn["text"].strip() and expect["kind"] in KINDS, conversation["id"]
            if expect["kind"] in ("answer", "answer_or_clarify"):
                assert set(expect) == {"kind", "procedure", "aspect"}, conversation["id"]
                assert expect["procedure"] in WARD_CODES, conversation["id"]
                assert expect["aspect"] in ASPECTS, conversation["id"]
            else:
                assert set(expect) == {"kind"}, conversation["id"]
        if "no_diacritics" in conversation.get("tags", []):
            scored = [t["text"] for t in conversation["turns"] if t["expect"]["kind"] != "any"]
            assert all(fold(text) == text.lower() for text in scored), conversation["id"]


def test_ids_are_unique_across_sets() -> None:
    seen: dict[str, str] = {}
    for path in SETS:
        for conversation in _conversations(path):
            where = (conversation["id"], seen.get(conversation["id"]), path.name)
            assert conversation["id"] not in seen, where
            seen[conversation["id"]] = path.name
