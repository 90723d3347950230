"""Reading and writing procedures in the database, with versions and an audit trail.

Every write goes through ``ProcedureStore`` so that each content change creates a new version row and
an audit entry; nothing is overwritten without a trace.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge_base.db import AuditRow, ProcedureRow, ProcedureVersionRow, utcnow
from knowledge_base.schema import Procedure

UpsertOutcome = Literal["inserted", "updated", "unchanged", "kept_curated"]

#: Curated origins: records written by the team or edited by an administrator. A portal import does
#: not overwrite them; an administrator reviews portal changes to those records instead.
CURATED_ORIGINS = frozenset({"ward", "admin"})


def content_hash(procedure: Procedure) -> str:
    """Return a stable SHA-256 of the procedure's content (JSON with sorted keys)."""
    payload = json.dumps(procedure.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for code, chash in pairs:
        digest.update(f"{code}:{chash}\n".encode())
    return digest.hexdigest()


def fingerprint_of(procedures: Iterable[Procedure]) -> str:
    """Return the corpus fingerprint of ``procedures``: equal to ``ProcedureStore.corpus_fingerprint``
    of a database holding exactly them, so an index manifest can be checked without loading records."""
    return _fingerprint(sorted((p.code, content_hash(p)) for p in procedures))


@dataclass(frozen=True)
class UpsertResult:
    code: str
    outcome: UpsertOutcome
    version: int


class ProcedureStore:
    """Procedures in the SQL database.

    Args:
        sessions: a SQLAlchemy ``sessionmaker`` bound to a migrated database
            (see ``knowledge_base.db.session_factory``).
    """

    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def session(self) -> Session:
        return self._sessions()

    def count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(ProcedureRow)) or 0

    def get(self, code: str) -> Procedure | None:
        with self._sessions() as session:
            row = session.get(ProcedureRow, code)
            return Procedure.model_validate(row.data) if row else None

    def all(self) -> list[Procedure]:
        """Return every current procedure, ordered by code."""
        with self._sessions() as session:
            rows = session.scalars(select(ProcedureRow).order_by(ProcedureRow.code))
            return [Procedure.model_validate(row.data) for row in rows]

    def codes_with_origin(self, origin: str) -> set[str]:
        with self._sessions() as session:
            return set(session.scalars(select(ProcedureRow.code).where(ProcedureRow.origin == origin)))

    def corpus_fingerprint(self) -> str:
        """Return a hash of every (code, content hash) pair: it changes whenever the corpus does."""
        with self._sessions() as session:
            pairs = session.execute(
                select(ProcedureRow.code, ProcedureRow.content_hash).order_by(ProcedureRow.code)
            ).all()
        return _fingerprint((code, chash) for code, chash in pairs)

    def upsert_many(
        self,
        procedures: Iterable[Procedure],
        *,
        author: str,
        note: str = "",
        overwrite_curated: bool = False,
    ) -> list[UpsertResult]:
        """Insert or update procedures in one transaction, adding a version for each change.

        Args:
            procedures: the records to store.
            author: who makes the change (``"import-portal"``, ``"ward-corpus"``, a username).
            note: a free-text note stored with each new version.
            overwrite_curated: when False, a record whose stored origin is curated (ward or admin) is
                left as it is unless the new record is curated too.

        Returns:
            One ``UpsertResult`` per input record, in input order.
        """
        results: list[UpsertResult] = []
        with self._sessions.begin() as session:
            for procedure in procedures:
                results.append(self._upsert(session, procedure, author, note, overwrite_curated))
        return results

    def _upsert(
        self, session: Session, procedure: Procedure, author: str, note: str, overwrite_curated: bool
    ) -> UpsertResult:
        chash = content_hash(procedure)
        row = session.get(ProcedureRow, procedure.code)
        if row is not None and row.content_hash == chash:
            return UpsertResult(procedure.code, "unchanged", row.version)
        if (
            row is not None
            and row.origin in CURATED_ORIGINS
            and procedure.origin not in CURATED_ORIGINS
            and not overwrite_curated
        ):
            return UpsertResult(procedure.code, "kept_curated", row.version)
        data = procedure.model_dump(mode="json")
        if row is None:
            row = ProcedureRow(code=procedure.code, version=1)
            session.add(row)
            outcome: UpsertOutcome = "inserted"
        else:
            row.version += 1
            outcome = "updated"
        row.name = procedure.name
        row.field = procedure.field
        row.level = ", ".join(procedure.level)
        row.origin = procedure.origin
        row.content_hash = chash
        row.data = data
        row.updated_at = utcnow()
        session.flush()
        session.add(
            ProcedureVersionRow(
                code=procedure.code,
                version=row.version,
                origin=procedure.origin,
                content_hash=chash,
                data=data,
                author=author,
                note=note,
            )
        )
        return UpsertResult(procedure.code, outcome, row.version)

    def versions(self, code: str) -> list[int]:
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(ProcedureVersionRow.version)
                    .where(ProcedureVersionRow.code == code)
                    .order_by(ProcedureVersionRow.version)
                )
            )

    def audit(self, *, actor: str, action: str, target: str = "", detail: dict | None = None) -> None:
        """Append one entry to the audit log."""
        with self._sessions.begin() as session:
            session.add(AuditRow(actor=actor, action=action, target=target, detail=detail or {}))

    def audit_entries(self, limit: int = 50) -> list[AuditRow]:
        with self._sessions() as session:
            return list(session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)))
