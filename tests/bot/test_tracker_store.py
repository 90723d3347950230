"""``CachingSQLTrackerStore`` keeps exactly what Rasa's own ``SQLTrackerStore`` keeps (run in ``.venv-rasa``).

Every check compares the caching store with the stock store reading the same database, so a
difference in rows, order or session boundaries fails. Each runs on SQLite and, when ``make test``
could start a server (``TEST_POSTGRES_URL``), on PostgreSQL in a schema of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("rasa", reason="Rasa runs in .venv-rasa: scripts/test-rasa.sh")

from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from bot.tracker_store import CachingSQLTrackerStore  # noqa: E402
from web.stack import use_write_ahead_log  # noqa: E402

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict]:
    """The tracker-store settings of an empty database (the keys endpoints.yml gives a SQL store)."""
    if request.param == "sqlite":
        yield {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
        return
    url = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg2")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield {
            "dialect": "postgresql", "host": url.host, "port": url.port, "db": url.database,
            "username": url.username, "password": url.password, "query": {"options": f"-csearch_path={schema}"},
        }
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _store(kind, database: dict, **kwargs):
    return kind(domain=DOMAIN, **database, **kwargs)


def _turn(text: str, time: float) -> list:
    return [
        UserUttered(text, {"name": "ask_fee", "confidence": 0.9}, timestamp=time),
        ActionExecuted("action_answer", timestamp=time + 0.1),
        BotUttered("Lệ phí: 8.000 đồng", {"custom": {"kind": "answer"}}, timestamp=time + 0.2),
        SlotSet("procedure_code", "1.001193", timestamp=time + 0.3),
        ActionExecuted("action_listen", timestamp=time + 0.4),
    ]


def _events(tracker: DialogueStateTracker | None) -> list[dict]:
    assert tracker is not None
    return [event.as_dict() for event in tracker.events]


def _rows(database: dict, sender: str) -> list[tuple]:
    store = _store(SQLTrackerStore, database)
    query = "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = :s ORDER BY id"
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(query), {"s": sender})]


def _conversation(store, sender: str, turns: int, start: float = 1000.0) -> DialogueStateTracker:
    """Play ``turns`` messages the way Rasa does: retrieve (or create), add events, save."""
    for n in range(turns):
        tracker = run(store.retrieve(sender)) or DialogueStateTracker(sender, DOMAIN.slots)
        if n == 0:
            tracker.update(ActionExecuted("action_session_start", timestamp=start))
            tracker.update(SessionStarted(timestamp=start))
            tracker.update(ActionExecuted("action_listen", timestamp=start))
        for event in _turn(f"lệ phí lần {n}", start + 10 * (n + 1)):
            tracker.update(event)
        run(store.save(tracker))
    return tracker


def test_every_event_is_written_once_in_order_as_the_stock_store_writes_it(database: dict):
    _conversation(_store(CachingSQLTrackerStore, database), "cached", turns=3)
    _conversation(_store(SQLTrackerStore, database), "stock", turns=3)
    rows = _rows(database, "cached")
    assert len(rows) == 3 + 3 * 5
    assert rows == _rows(database, "stock")


def test_what_it_retrieves_equals_what_the_stock_store_reads_from_the_database(database: dict):
    caching = _store(CachingSQLTrackerStore, database)
    played = _conversation(caching, "a", turns=2)
    from_memory = run(caching.retrieve("a"))
    from_database = run(_store(SQLTrackerStore, database).retrieve("a"))
    assert _events(from_memory) == _events(from_database) == _events(played)
    assert from_memory.get_slot("procedure_code") == "1.001193"


def test_a_restarted_process_reads_the_conversation_back_from_the_database(database: dict):
    _conversation(_store(CachingSQLTrackerStore, database), "a", turns=2)
    restarted = _store(CachingSQLTrackerStore, database)
    tracker = run(restarted.retrieve("a"))
    tracker.update(UserUttered("cảm ơn", {"name": "thank", "confidence": 0.99}, timestamp=5000.0))
    run(restarted.save(tracker))
    assert len(_rows(database, "a")) == 3 + 2 * 5 + 1  # the old events were not written again


def test_a_new_session_is_retrieved_alone_as_the_stock_store_does(database: dict):
    caching = _store(CachingSQLTrackerStore, database)
    tracker = _conversation(caching, "a", turns=1)
    for event in (
        ActionExecuted("action_session_start", timestamp=9000.0),
        SessionStarted(timestamp=9000.0),
        SlotSet("procedure_code", "1.001193", timestamp=9000.0),
        ActionExecuted("action_listen", timestamp=9000.0),
        UserUttered("chào", {"name": "greet", "confidence": 0.99}, timestamp=9001.0),
    ):
        tracker.update(event)
    run(caching.save(tracker))
    from_memory = run(caching.retrieve("a"))
    from_database = run(_store(SQLTrackerStore, database).retrieve("a"))
    assert _events(from_memory) == _events(from_database)
    kinds = [e["event"] for e in _events(from_memory)]
    assert kinds == ["action", "session_started", "slot", "action", "user"]  # nothing of the first session


def test_conversations_past_the_cache_size_are_read_again_and_stay_right(database: dict):
    caching = _store(CachingSQLTrackerStore, database, max_conversations=1)
    for n, sender in enumerate(("a", "b", "a", "c", "b")):
        _conversation(caching, sender, turns=1, start=1000.0 * (n + 1))
    stock = _store(SQLTrackerStore, database)
    for sender in "abc":
        assert _events(run(caching.retrieve(sender))) == _events(run(stock.retrieve(sender)))
    assert len(caching._sessions) == 1


def test_a_conversation_idle_past_the_limit_is_read_again_with_what_another_process_wrote(database: dict):
    # Two Rasa processes (lanes): the front moves a conversation only after it has been idle for longer
    # than the caches keep it, so the first process must then read what the second one added.
    now = [0.0]
    first = _store(CachingSQLTrackerStore, database, max_idle_seconds=1800, clock=lambda: now[0])
    second = _store(CachingSQLTrackerStore, database)
    _conversation(first, "a", turns=1)
    now[0] = 1000.0
    run(first.retrieve("a"))  # still in use: its idle time starts again
    now[0] = 2500.0
    moved = run(second.retrieve("a"))
    for event in _turn("nộp ở đâu", 3000.0):
        moved.update(event)
    run(second.save(moved))

    now[0] = 1000.0 + 1800.0  # idle for the limit
    back = run(first.retrieve("a"))
    assert _events(back) == _events(run(_store(SQLTrackerStore, database).retrieve("a")))
    assert [e.get("text") for e in _events(back) if e["event"] == "user"] == ["lệ phí lần 0", "nộp ở đâu"]


def test_an_unknown_conversation_is_none_and_bad_cache_limits_are_refused(database: dict):
    assert run(_store(CachingSQLTrackerStore, database).retrieve("nobody")) is None
    with pytest.raises(ValueError, match="max_conversations"):
        _store(CachingSQLTrackerStore, database, max_conversations=0)
    with pytest.raises(ValueError, match="max_idle_seconds"):
        _store(CachingSQLTrackerStore, database, max_idle_seconds=0)


def test_a_sqlite_file_store_keeps_its_connection_between_messages(tmp_path: Path):
    # SQLAlchemy 1.4 would open and close a connection per query; in WAL mode (web.stack) each close
    # of the last one also checkpointed the log into the database and deleted it.
    database = {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    use_write_ahead_log(tmp_path / "tracker.db")
    caching = _store(CachingSQLTrackerStore, database)
    connects = []
    sa.event.listen(caching.engine, "connect", lambda *_: connects.append(1))
    _conversation(caching, "a", turns=3)
    assert _events(run(caching.retrieve("a"))) == _events(run(_store(SQLTrackerStore, database).retrieve("a")))
    assert len(connects) == 1
    assert (tmp_path / "tracker.db-wal").exists()  # the log was not checkpointed away after each query
