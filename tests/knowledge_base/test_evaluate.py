from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from knowledge_base.evaluate import DECISION_KEYS, EvalFileError, LabelledQuestion, classify, evaluate, read_questions
from knowledge_base.gate import Decision
from knowledge_base.retriever import Candidate


@pytest.mark.parametrize(
    ("decision", "expected", "outcome"),
    [
        (Decision("answer", ["A"]), ["A"], "answer_correct"),
        (Decision("answer", ["B"]), ["A", "C"], "answer_wrong"),
        (Decision("clarify", ["B", "A"]), ["A"], "clarify_hit"),
        (Decision("clarify", ["B", "C"]), ["A"], "clarify_miss"),
        (Decision("handoff"), ["A"], "handoff_answerable"),
        (Decision("handoff"), [], "handoff_unanswerable"),
        (Decision("answer", ["A"]), [], "answer_unanswerable"),
        (Decision("clarify", ["A", "B"]), [], "clarify_unanswerable"),
    ],
)
def test_classify(decision: Decision, expected: list[str], outcome: str) -> None:
    assert classify(decision, expected) == outcome


@dataclass
class _Result:
    candidates: list[Candidate]
    decision: Decision


def _fake_ask(ranking: dict[str, list[str]], decisions: dict[str, Decision]):
    def ask(question: str) -> _Result:
        return _Result([Candidate(c, c, 1.0, 0, 0, None, None) for c in ranking[question]], decisions[question])

    return ask


def test_metrics_on_a_hand_computed_example() -> None:
    questions = [
        LabelledQuestion("q1", ["A"]),  # rank 1
        LabelledQuestion("q2", ["B"]),  # rank 3
        LabelledQuestion("q3", ["Z"]),  # not found
        LabelledQuestion("q4", []),  # unanswerable
    ]
    ranking = {"q1": ["A", "B"], "q2": ["A", "C", "B"], "q3": ["A"], "q4": ["A"]}
    decisions = {
        "q1": Decision("answer", ["A"]),
        "q2": Decision("clarify", ["A", "C"]),
        "q3": Decision("handoff"),
        "q4": Decision("handoff"),
    }
    result = evaluate(questions, _fake_ask(ranking, decisions))
    assert result.n == 3 and result.n_unanswerable == 1
    assert result.recall_at_1 == pytest.approx(1 / 3)
    assert result.recall_at_5 == pytest.approx(2 / 3)
    assert result.mrr == pytest.approx((1 + 1 / 3) / 3)
    assert set(result.decisions) == set(DECISION_KEYS)
    assert result.decisions["answer_correct"] == 1 and result.decisions["clarify_miss"] == 1
    assert result.decisions["handoff_answerable"] == 1 and result.decisions["handoff_unanswerable"] == 1


@pytest.mark.parametrize(
    "content",
    [
        '{"question": "a"}\n', "not json\n", '{"question": 1, "expected": []}\n', '{"question": "a", "expected": "x"}\n', "",
        '{"turns": []}\n', '{"turns": [{"text": "a", "expect": {"kind": "answer"}}]}\n',
    ],
)
def test_read_questions_rejects_bad_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalFileError, match="q.jsonl"):
        read_questions(path)


def test_read_questions_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "a", "expected": ["1.001193"]}\n\n{"question": "b", "expected": []}\n')
    assert read_questions(path) == [LabelledQuestion("a", ["1.001193"]), LabelledQuestion("b", [])]


def test_read_questions_takes_the_first_turn_of_a_conversation(tmp_path: Path) -> None:
    path = tmp_path / "conversations.jsonl"
    rows = [
        {"id": "c1", "turns": [
            {"text": "khai sinh can gi", "expect": {"kind": "answer", "procedure": "1.001193", "aspect": "documents"}},
            {"text": "phi bn", "expect": {"kind": "answer", "procedure": "1.001193", "aspect": "fee"}},
        ]},
        {"id": "c2", "turns": [{"text": "gia vang hom nay", "expect": {"kind": "handoff"}}]},
        {"id": "c3", "turns": [{"text": "chao ad", "expect": {"kind": "any"}}]},
        {"id": "c4", "turns": [{"text": "cat khau", "expect": {"kind": "answer_or_clarify", "procedure": "1.003197",
                                                           "aspect": "overview"}}]},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert read_questions(path) == [
        LabelledQuestion("khai sinh can gi", ["1.001193"]),
        LabelledQuestion("gia vang hom nay", []),
        LabelledQuestion("cat khau", ["1.003197"]),
    ]
