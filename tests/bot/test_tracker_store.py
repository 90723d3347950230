"""``CachingSQLTrackerStore`` keeps exactly what Rasa's own ``SQLTrackerStore`` keeps (run in ``.venv-rasa``).

Every check compares the caching store with the stock store reading the same database file, so a
difference in rows, order or session boundaries fails.
"""

from __future__ import annotations

import asyncio
import sqlite3
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

from bot.tracker_store import CachingSQLTrackerStore  # noqa: E402

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


def run(coroutine):
    return asyncio.run(coroutine)


def _store(kind, database: Path, **kwargs):
    return kind(domain=DOMAIN, dialect="sqlite", db=str(database), **kwargs)


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


def _rows(database: Path) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id").fetchall()


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


def test_every_event_is_written_once_in_order_as_the_stock_store_writes_it(tmp_path: Path):
    caching, stock = tmp_path / "caching.db", tmp_path / "stock.db"
    _conversation(_store(CachingSQLTrackerStore, caching), "a", turns=3)
    _conversation(_store(SQLTrackerStore, stock), "a", turns=3)
    rows = _rows(caching)
    assert len(rows) == 3 + 3 * 5
    assert rows == _rows(stock)


def test_what_it_retrieves_equals_what_the_stock_store_reads_from_the_database(tmp_path: Path):
    database = tmp_path / "t.db"
    caching = _store(CachingSQLTrackerStore, database)
    played = _conversation(caching, "a", turns=2)
    from_memory = run(caching.retrieve("a"))
    from_database = run(_store(SQLTrackerStore, database).retrieve("a"))
    assert _events(from_memory) == _events(from_database) == _events(played)
    assert from_memory.get_slot("procedure_code") == "1.001193"


def test_a_restarted_process_reads_the_conversation_back_from_the_database(tmp_path: Path):
    database = tmp_path / "t.db"
    _conversation(_store(CachingSQLTrackerStore, database), "a", turns=2)
    restarted = _store(CachingSQLTrackerStore, database)
    tracker = run(restarted.retrieve("a"))
    tracker.update(UserUttered("cảm ơn", {"name": "thank", "confidence": 0.99}, timestamp=5000.0))
    run(restarted.save(tracker))
    assert len(_rows(database)) == 3 + 2 * 5 + 1  # the old events were not written again


def test_a_new_session_is_retrieved_alone_as_the_stock_store_does(tmp_path: Path):
    database = tmp_path / "t.db"
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


def test_conversations_past_the_cache_size_are_read_again_and_stay_right(tmp_path: Path):
    database = tmp_path / "t.db"
    caching = _store(CachingSQLTrackerStore, database, max_conversations=1)
    for sender in ("a", "b", "a", "c", "b"):
        _conversation(caching, sender, turns=1, start=len(_rows(database)) * 100.0)
    stock = _store(SQLTrackerStore, database)
    for sender in "abc":
        assert _events(run(caching.retrieve(sender))) == _events(run(stock.retrieve(sender)))
    assert len(caching._sessions) == 1


def test_an_unknown_conversation_is_none_and_a_bad_cache_size_is_refused(tmp_path: Path):
    assert run(_store(CachingSQLTrackerStore, tmp_path / "t.db").retrieve("nobody")) is None
    with pytest.raises(ValueError, match="max_conversations"):
        _store(CachingSQLTrackerStore, tmp_path / "t.db", max_conversations=0)
