"""Which aspect the assistant answers: ``actions.dialogue.asked_aspect`` on the labelled messages.

    python -m benchmarks.aspects [--details OUT]

Starts Rasa (``web.stack``, one lane) on the trained model, asks its HTTP API (``/model/parse``) for
the intent of every labelled message that has an aspect — the scored answer turns of
``conversations/dev.jsonl``, the answerable questions of ``questions/situations.jsonl`` and
``questions/dev.jsonl`` — and compares ``asked_aspect(text, intent)`` with the label. Messages the
NLU sends to an officer (complaints, requests for a person, out of scope) are counted apart: the
dialogue hands them off before any aspect matters.

``questions/dev.jsonl`` predates the conversation sets' convention and labels "how do I …" as
``steps`` where the conversations say ``overview`` (benchmarks/conversations/README.md); it is scored
with the two counted as one. Follow-up turns are scored without their context, which does not change
the aspect rule. Results: ``dialogue.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from actions.dialogue import HANDOFF_INTENTS, asked_aspect
from benchmarks.dialogue import post_json, read_conversations
from web.stack import Stack

HERE = Path(__file__).resolve().parent
CONVENTION_SETS = (HERE / "conversations" / "dev.jsonl", HERE / "questions" / "situations.jsonl")
OLDER_SET = HERE / "questions" / "dev.jsonl"


def labelled_messages(path: Path) -> list[dict]:
    """(text, aspect) of every answerable labelled message in a question or conversation file."""
    rows = []
    for record in read_conversations(path):  # any JSONL file, one record per line
        if "turns" in record:
            for turn in record["turns"]:
                expect = turn.get("expect", {})
                if expect.get("kind") in ("answer", "answer_or_clarify") and expect.get("aspect"):
                    rows.append({"text": turn["text"], "aspect": expect["aspect"]})
        elif record.get("expected") and record.get("aspect"):
            rows.append({"text": record["question"], "aspect": record["aspect"]})
    return rows


def parse_intent(rasa_url: str, token: str, text: str) -> str:
    return post_json(f"{rasa_url}/model/parse?token={token}", {"text": text})["intent"]["name"]


def score(rows: list[dict], same: dict[str, str] | None = None) -> dict:
    """Counts of right / wrong / handed off, and the most frequent (label, answered) confusions."""
    same = same or {}
    right, confusions, handed_off = 0, Counter(), 0
    for row in rows:
        if row["intent"] in HANDOFF_INTENTS:
            handed_off += 1
            continue
        got = asked_aspect(row["text"], row["intent"])
        row["got"] = got
        if same.get(got, got) == same.get(row["aspect"], row["aspect"]):
            right += 1
        else:
            confusions[f"{row['aspect']} -> {got}"] += 1
    scored = len(rows) - handed_off
    return {
        "aspect_right": f"{right}/{scored} = {right / scored:.3f}" if scored else "0/0",
        "handed_off_by_intent": handed_off,
        "confusions": dict(confusions.most_common(8)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.aspects", description=__doc__.splitlines()[0])
    parser.add_argument("--details", type=Path, help="write one JSON line per message here")
    args = parser.parse_args(argv)
    convention = [row for path in CONVENTION_SETS for row in labelled_messages(path)]
    older = labelled_messages(OLDER_SET)
    with Stack(rasa_port=0, action_port=0, lanes=1) as stack:
        for row in [*convention, *older]:
            row["intent"] = parse_intent(stack.rasa_url, stack.token, row["text"])
    report = {
        "conversations/dev + questions/situations": score(convention),
        "questions/dev (steps = overview)": score(older, same={"steps": "overview"}),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.details:
        with args.details.open("w", encoding="utf-8") as out:
            for row in [*convention, *older]:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
