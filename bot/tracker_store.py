"""``CachingSQLTrackerStore``: Rasa's SQL tracker store that remembers each conversation's current session.

Rasa loads a conversation from its tracker store at the start of every message and saves it at the
end. The stock ``SQLTrackerStore`` pays for that with three queries a message (load the session's
events, count them again before saving, insert the new ones), and profiling under load put 30% of the
Rasa process's time there (benchmarks/dialogue.md). This store keeps, per conversation, the stored
rows of its current session (the same JSON strings the ``events`` table holds) in memory:

- ``retrieve`` rebuilds the tracker from those rows without a query; a conversation it has not seen
  since the start (or that fell out of the cache) is read from the database once, as before;
- ``save`` inserts the events after the ones it knows are stored, with no count query.

The database stays the record: every event is written before the reply goes out, exactly the rows the
stock store writes, and ``retrieve_full_tracker`` (the HTTP API's history) still reads it. The cache
is only right while this process is the only writer of its conversations, which the in-memory lock
store of one Rasa instance already requires. With several Rasa processes, ``web.rasa_front`` keeps a
conversation on one process while it is active and may move it only after an hour without messages;
a conversation idle for ``max_idle_seconds`` (30 minutes by default) is read from the database again,
so a process never answers from a copy another process has since extended.

Configured in ``endpoints.yml`` as ``type: bot.tracker_store.CachingSQLTrackerStore`` with the same
keys as ``type: SQL``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import OrderedDict
from typing import Any, Callable, NamedTuple, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

DEFAULT_MAX_CONVERSATIONS = 5000
DEFAULT_MAX_IDLE_SECONDS = 1800.0


class StoredEvent(NamedTuple):
    """The columns of one row of the ``events`` table that the session query and a tracker need."""

    timestamp: Optional[float]
    type_name: str
    data: str


class CachingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` plus an in-memory copy of recent conversations' current sessions.

    Args:
        max_conversations: conversations kept in memory, least recently used dropped first (a dropped
            one is read from the database again on its next message).
        max_idle_seconds: a conversation not used for this long is read from the database again.
        clock: seconds, monotonic (tests pass their own).
        Every other argument is ``SQLTrackerStore``'s.
    """

    def __init__(
        self,
        *args: Any,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        max_idle_seconds: float = DEFAULT_MAX_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _keep_sqlite_connections_open(self)
        if int(max_conversations) < 1:
            raise ValueError("max_conversations must be at least 1")
        if float(max_idle_seconds) <= 0:
            raise ValueError("max_idle_seconds must be positive")
        self.max_conversations = int(max_conversations)
        self.max_idle_seconds = float(max_idle_seconds)
        self._clock = clock
        # sender id -> (when last used, the stored events of its current session in the order of
        # their ids), least recently used first
        self._sessions: OrderedDict[str, tuple[float, list[StoredEvent]]] = OrderedDict()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        stored = self._stored_session(sender_id)
        if not stored or not self.domain:
            return None
        events = [json.loads(row.data) for row in stored]
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        stored = self._stored_session(tracker.sender_id)
        records = []
        for event in itertools.islice(tracker.events, len(stored), None):
            data = event.as_dict()
            records.append(
                {
                    "sender_id": tracker.sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                }
            )
        if records:
            # One INSERT for all rows (the ORM's unit of work cost more than the rows themselves).
            with self.session_scope() as session:
                session.execute(self.SQLEvent.__table__.insert(), records)
                session.commit()
        new = [StoredEvent(r["timestamp"], r["type_name"], r["data"]) for r in records]
        self._remember(tracker.sender_id, current_session([*stored, *new]))

    def _stored_session(self, sender_id: Text) -> list[StoredEvent]:
        self._forget_idle()
        cached = self._sessions.get(sender_id)
        if cached is not None:
            self._remember(sender_id, cached[1])
            return cached[1]
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            stored = [StoredEvent(row.timestamp, row.type_name, row.data) for row in query.all()]
        self._remember(sender_id, stored)
        return stored

    def _remember(self, sender_id: Text, stored: list[StoredEvent]) -> None:
        self._sessions[sender_id] = (self._clock(), stored)
        self._sessions.move_to_end(sender_id)
        while len(self._sessions) > self.max_conversations:
            self._sessions.popitem(last=False)

    def _forget_idle(self) -> None:
        now = self._clock()
        while self._sessions:
            used, _ = next(iter(self._sessions.values()))
            if now - used < self.max_idle_seconds:
                return
            self._sessions.popitem(last=False)


def _keep_sqlite_connections_open(store: SQLTrackerStore) -> None:
    """Give a file SQLite store a pool that keeps its connections open between queries.

    SQLAlchemy 1.4 (Rasa 3.6's) opens and closes a new connection for every SQLite file query
    (``NullPool``); in write-ahead-log mode (web.stack sets it) closing the last connection also
    checkpoints the log into the database and deletes it, so each message paid for a connect, a
    checkpoint with its fsync, and an unlink. SQLAlchemy 2.0 pools SQLite file connections by default
    the same way. Other databases keep Rasa's engine.
    """
    engine = store.engine
    if engine.dialect.name != "sqlite" or not isinstance(engine.pool, NullPool):
        return  # another database, or in-memory SQLite (SQLAlchemy gives it one shared connection)
    engine.dispose()
    store.engine = sa.create_engine(
        engine.url, poolclass=QueuePool, connect_args={"check_same_thread": False}
    )
    store.sessionmaker = sessionmaker(bind=store.engine)


def current_session(stored: list[StoredEvent]) -> list[StoredEvent]:
    """The rows ``SQLTrackerStore``'s session query returns: those stamped at or after the latest
    ``SessionStarted``, or all of them when there is none."""
    starts = [row.timestamp for row in stored if row.type_name == SessionStarted.type_name and row.timestamp is not None]
    if not starts:
        return stored
    latest = max(starts)
    return [row for row in stored if row.timestamp is not None and row.timestamp >= latest]
