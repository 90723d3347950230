"""``benchmarks.aspects`` reads the labelled sets as they are written and scores the dialogue's rule."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.aspects import labelled_messages, score


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_labelled_messages_takes_answerable_questions_and_answer_turns(tmp_path: Path) -> None:
    questions = _write(tmp_path / "q.jsonl", [
        {"question": "khai sinh cần gì", "expected": ["1.001193"], "aspect": "documents"},
        {"question": "xe rác mấy giờ qua", "expected": [], "aspect": "time"},  # unanswerable
    ])
    conversations = _write(tmp_path / "c.jsonl", [
        {"id": "c1", "turns": [
            {"text": "đăng ký tạm trú",
             "expect": {"kind": "answer", "procedure": "1.004194", "aspect": "overview"}},
            {"text": "gặp cán bộ", "expect": {"kind": "handoff"}},
        ]},
    ])
    assert labelled_messages(questions) == [{"text": "khai sinh cần gì", "aspect": "documents"}]
    assert labelled_messages(conversations) == [{"text": "đăng ký tạm trú", "aspect": "overview"}]


def test_score_counts_right_wrong_and_messages_the_nlu_hands_off() -> None:
    rows = [
        {"text": "khai sinh cần mang theo gì", "aspect": "documents", "intent": "ask_procedure"},
        {"text": "khai sinh làm thế nào", "aspect": "steps", "intent": "ask_procedure"},
        {"text": "khai sinh lệ phí bao nhiêu", "aspect": "time", "intent": "ask_fee"},
        {"text": "cán bộ làm ăn tắc trách quá", "aspect": "overview", "intent": "complain"},
    ]
    assert score(rows) == {
        "aspect_right": "1/3 = 0.333",
        "handed_off_by_intent": 1,
        "confusions": {"steps -> overview": 1, "time -> fee": 1},
    }
    assert score(rows, same={"steps": "overview"})["aspect_right"] == "2/3 = 0.667"
