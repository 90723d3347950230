"""Tests for handoff cases and feedback, on SQLite and PostgreSQL (``database_url`` in conftest)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import sessionmaker

from knowledge_base.db import make_engine, migrate
from web.cases import HANDOFF_REASONS, MAX_TEXT, CaseService


@pytest.fixture
def cases(database_url: str):
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield CaseService(sessionmaker(engine, expire_on_commit=False))
    finally:
        engine.dispose()


def test_migration_creates_the_case_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"cases", "case_messages", "feedback"} <= names


def test_open_case_queues_a_waiting_case_with_the_question(cases: CaseService) -> None:
    case = cases.open_case("s1", "low_confidence", question="xin giấy phép karaoke", procedure="")

    assert case.status == "waiting"
    assert case.reason == "low_confidence"
    assert cases.list("waiting") == [case]
    assert cases.messages(case.id) == [("citizen", "xin giấy phép karaoke")]


def test_a_second_handoff_joins_the_open_case(cases: CaseService) -> None:
    first = cases.open_case("s1", "request_human", question="cho gặp cán bộ")
    second = cases.open_case("s1", "complain", question="sao lâu thế")
    other = cases.open_case("s2", "out_of_scope", question="giá vàng hôm nay")

    assert second.id == first.id
    assert second.reason == "request_human"  # the first reason stays: it is why the citizen queued
    assert other.id != first.id
    assert [sender for sender, _ in cases.messages(first.id)] == ["citizen", "citizen"]
    assert cases.open_case_for("s1") == second
    assert cases.open_case_for("nobody") is None


def test_open_case_rejects_unknown_reasons_and_missing_sessions(cases: CaseService) -> None:
    with pytest.raises(ValueError, match="unknown handoff reason"):
        cases.open_case("s1", "bored")
    with pytest.raises(ValueError, match="session_id"):
        cases.open_case("", "no_match")
    assert cases.list() == []


def test_long_questions_are_cut_to_the_stored_limit(cases: CaseService) -> None:
    case = cases.open_case("s1", "too_long", question="a" * 10_000)
    assert len(case.question) == MAX_TEXT
    assert "too_long" in HANDOFF_REASONS


def test_feedback_is_stored_and_counted(cases: CaseService) -> None:
    cases.record_feedback("s1", True, procedure="1.001193", aspect="fee", question="lệ phí khai sinh")
    cases.record_feedback("s2", False, procedure="1.001193", aspect="documents")
    cases.record_feedback("s3", True)

    assert cases.feedback_counts() == {"helpful": 2, "not_helpful": 1}
