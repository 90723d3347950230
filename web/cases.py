"""Handoff cases and answer feedback: the tables the bot writes and the officer console reads.

- ``cases``: a conversation handed to a human officer, with why (``reason``), what the citizen last
  asked and the procedure in context. Status goes ``waiting`` → ``active`` (claimed by an officer)
  → ``resolved`` (the bot resumes).
- ``case_messages``: the messages of a case once it is open (citizen, officer, bot notes).
- ``feedback``: the citizen's "was this helpful?" answer after a bot answer, for analytics.

The action server (rasa-sdk, in ``.venv``) opens cases through ``CaseService.open_case``; the web
app uses the same service. Tables live in the one database of ``DATABASE_URL`` and are created by
the project's Alembic migrations (``knowledge_base.db.migrate``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from knowledge_base.db import Base, session_factory, utcnow

CaseStatus = Literal["waiting", "active", "resolved"]
OPEN_STATUSES = ("waiting", "active")

# Why a conversation reaches an officer. The bot's handoff payload carries one of these.
HANDOFF_REASONS = (
    "low_confidence",  # the confidence gate would not answer
    "no_match",  # retrieval found nothing
    "nlu_fallback",  # the NLU did not understand the message
    "request_human",  # the citizen asked for a person
    "complain",  # the citizen complained
    "out_of_scope",  # not an administrative-procedure question
    "not_covered",  # a matter none of the ward's procedures covers (a passport, a driving licence ...)
    "empty",  # nothing to search for
    "too_long",  # longer than the bot reads
)
MAX_TEXT = 4000  # characters of a citizen's question kept on a case


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    question: Mapped[str] = mapped_column(Text, default="")
    procedure: Mapped[str] = mapped_column(String(16), default="")
    officer: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseMessageRow(Base):
    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(16))  # citizen | officer | bot
    author: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    procedure: Mapped[str] = mapped_column(String(16), default="", index=True)
    aspect: Mapped[str] = mapped_column(String(16), default="")
    question: Mapped[str] = mapped_column(Text, default="")
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Case:
    id: int
    session_id: str
    reason: str
    status: str
    question: str
    procedure: str
    created_at: dt.datetime

    @classmethod
    def of(cls, row: CaseRow) -> "Case":
        created = row.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; everything is stored in UTC
            created = created.replace(tzinfo=dt.timezone.utc)
        return cls(row.id, row.session_id, row.reason, row.status, row.question, row.procedure, created)


def _open_row(session: Session, session_id: str) -> CaseRow | None:
    """The newest waiting or active case of a conversation."""
    query = (
        select(CaseRow)
        .where(CaseRow.session_id == session_id, CaseRow.status.in_(OPEN_STATUSES))
        .order_by(CaseRow.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


class CaseService:
    """Open and list handoff cases, and store feedback.

    Args:
        sessions: a session factory bound to a migrated database.
    """

    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    @classmethod
    def for_url(cls, url: str) -> "CaseService":
        return cls(session_factory(url))

    def open_case(self, session_id: str, reason: str, question: str = "", procedure: str = "") -> Case:
        """Open a waiting case for ``session_id``, or return the one already open for it.

        A conversation has at most one open case: a second handoff while the first is waiting or
        active adds the new question to that case instead of queueing the citizen twice.
        """
        if reason not in HANDOFF_REASONS:
            raise ValueError(f"unknown handoff reason {reason!r}; expected one of {', '.join(HANDOFF_REASONS)}")
        if not session_id:
            raise ValueError("a case needs the conversation's session_id")
        question = question[:MAX_TEXT]
        with self._sessions.begin() as session:
            row = _open_row(session, session_id)
            if row is None:
                row = CaseRow(session_id=session_id, reason=reason, question=question, procedure=procedure or "")
                session.add(row)
                session.flush()
            else:
                row.updated_at = utcnow()
            if question:
                session.add(CaseMessageRow(case_id=row.id, sender="citizen", text=question))
            return Case.of(row)

    def get(self, case_id: int) -> Case | None:
        with self._sessions() as session:
            row = session.get(CaseRow, case_id)
            return Case.of(row) if row else None

    def open_case_for(self, session_id: str) -> Case | None:
        """Return the waiting or active case of a conversation, if any."""
        with self._sessions() as session:
            row = _open_row(session, session_id)
            return Case.of(row) if row else None

    def list(self, status: CaseStatus | None = None) -> list[Case]:
        with self._sessions() as session:
            query = select(CaseRow).order_by(CaseRow.created_at, CaseRow.id)
            if status:
                query = query.where(CaseRow.status == status)
            return [Case.of(row) for row in session.scalars(query)]

    def messages(self, case_id: int) -> list[tuple[str, str]]:
        """Return ``(sender, text)`` of a case's messages, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(CaseMessageRow).where(CaseMessageRow.case_id == case_id).order_by(CaseMessageRow.id)
            )
            return [(row.sender, row.text) for row in rows]

    def record_feedback(self, session_id: str, helpful: bool, procedure: str = "", aspect: str = "", question: str = "") -> int:
        """Store one "was this helpful?" answer and return its id."""
        with self._sessions.begin() as session:
            row = FeedbackRow(
                session_id=session_id,
                helpful=helpful,
                procedure=procedure or "",
                aspect=aspect or "",
                question=(question or "")[:MAX_TEXT],
            )
            session.add(row)
            session.flush()
            return row.id

    def feedback_counts(self) -> dict[str, int]:
        """Return ``{"helpful": n, "not_helpful": m}`` over all stored feedback."""
        with self._sessions() as session:
            values = list(session.scalars(select(FeedbackRow.helpful)))
        return {"helpful": sum(values), "not_helpful": len(values) - sum(values)}
