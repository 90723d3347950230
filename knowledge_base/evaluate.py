"""Measuring retrieval and the gate on a labelled question file.

The file is JSONL: ``{"question": str, "expected": [code, ...]}`` per line; an empty ``expected``
means the corpus cannot answer the question, and the right behaviour is a handoff.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from knowledge_base.gate import Decision

DECISION_KEYS = (
    "answer_correct",
    "answer_wrong",
    "clarify_hit",
    "clarify_miss",
    "handoff_answerable",
    "handoff_unanswerable",
    "answer_unanswerable",
    "clarify_unanswerable",
)


class EvalFileError(ValueError):
    """The question file is malformed; the message names the line."""


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    expected: list[str]


def read_questions(path: Path) -> list[LabelledQuestion]:
    """Read a labelled JSONL file: question rows (``{"question": str, "expected": [codes]}``), or
    conversation rows (``{"turns": [...]}``, benchmarks/conversations/README.md), whose first turn
    stands alone and is read as a question (a handoff turn expects no procedure; unscored turns are
    skipped).

    Raises:
        EvalFileError: naming the line that is not a valid row.
    """
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if isinstance(obj, dict) and "turns" in obj:
                    first = obj["turns"][0]
                    kind = first["expect"]["kind"]
                    if kind == "any":
                        continue
                    question = first["text"]
                    expected = [first["expect"]["procedure"]] if kind in ("answer", "answer_or_clarify") else []
                else:
                    question, expected = obj["question"], obj["expected"]
            except (json.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
                raise EvalFileError(
                    f"{path}:{number}: expected {{'question': str, 'expected': [codes]}} or a conversation ({exc})"
                ) from exc
            if not isinstance(question, str) or not isinstance(expected, list):
                raise EvalFileError(f"{path}:{number}: 'question' must be a string and 'expected' a list")
            rows.append(LabelledQuestion(question, [str(c) for c in expected]))
    if not rows:
        raise EvalFileError(f"{path}: no questions")
    return rows


def classify(decision: Decision, expected: Sequence[str]) -> str:
    """Name the outcome of one decision against the acceptable codes (one of DECISION_KEYS)."""
    if expected:
        if decision.kind == "answer":
            return "answer_correct" if decision.options[0] in expected else "answer_wrong"
        if decision.kind == "clarify":
            return "clarify_hit" if set(decision.options) & set(expected) else "clarify_miss"
        return "handoff_answerable"
    return {"answer": "answer_unanswerable", "clarify": "clarify_unanswerable"}.get(decision.kind, "handoff_unanswerable")


@dataclass
class EvalResult:
    n: int
    n_unanswerable: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    decisions: dict[str, int]
    rows: list[dict]

    def summary(self) -> dict:
        answerable = self.n
        d = self.decisions
        return {
            "n": self.n,
            "n_unanswerable": self.n_unanswerable,
            "recall_at_1": round(self.recall_at_1, 4),
            "recall_at_5": round(self.recall_at_5, 4),
            "mrr": round(self.mrr, 4),
            "decisions": self.decisions,
            "wrong_answer_rate": round(d["answer_wrong"] / answerable, 4) if answerable else 0.0,
            "unanswerable_handoff_rate": round(d["handoff_unanswerable"] / self.n_unanswerable, 4)
            if self.n_unanswerable
            else None,
        }


def evaluate(questions: Sequence[LabelledQuestion], ask: Callable[[str], "object"], *, depth: int = 10) -> EvalResult:
    """Run every question through ``ask`` (``KnowledgeBase.ask``-like: returns ``.candidates`` and
    ``.decision``) and compute recall@1, recall@5, MRR over answerable rows plus decision counts."""
    decisions: Counter = Counter({key: 0 for key in DECISION_KEYS})
    hits1 = hits5 = 0
    rr = 0.0
    answerable = 0
    rows = []
    for q in questions:
        result = ask(q.question)
        ranked = [c.code for c in result.candidates[:depth]]
        outcome = classify(result.decision, q.expected)
        decisions[outcome] += 1
        rank = next((i for i, code in enumerate(ranked, 1) if code in q.expected), None)
        if q.expected:
            answerable += 1
            hits1 += rank == 1
            hits5 += rank is not None and rank <= 5
            rr += 1.0 / rank if rank else 0.0
        rows.append({"question": q.question, "expected": q.expected, "ranked": ranked[:5], "rank": rank,
                     "decision": result.decision.kind, "options": result.decision.options, "outcome": outcome})
    return EvalResult(
        n=answerable,
        n_unanswerable=len(questions) - answerable,
        recall_at_1=hits1 / answerable if answerable else 0.0,
        recall_at_5=hits5 / answerable if answerable else 0.0,
        mrr=rr / answerable if answerable else 0.0,
        decisions=dict(decisions),
        rows=rows,
    )
