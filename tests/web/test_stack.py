"""Unit tests of web.stack that need no running services (the real stack: tests/integration)."""

import sqlite3

import pytest

from web import stack
from web.stack import SERVICE_THREADS, Stack, use_write_ahead_log


def test_tracker_database_is_put_in_write_ahead_log_mode(tmp_path):
    database = tmp_path / "tracker.db"
    use_write_ahead_log(database)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_an_existing_tracker_database_keeps_its_rows(tmp_path):
    database = tmp_path / "tracker.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE events (id INTEGER)")
        connection.execute("INSERT INTO events VALUES (7)")
    connection.close()
    use_write_ahead_log(database)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT id FROM events").fetchall() == [(7,)]
    connection.close()


def test_services_get_one_math_thread_each_unless_told_otherwise(monkeypatch, tmp_path):
    for name in SERVICE_THREADS:
        monkeypatch.delenv(name, raising=False)
    env = Stack(tracker_db=tmp_path / "t.db")._environment()
    assert {name: env[name] for name in SERVICE_THREADS} == SERVICE_THREADS

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert Stack(tracker_db=tmp_path / "t.db")._environment()["OMP_NUM_THREADS"] == "2"
    assert Stack(env={"OMP_NUM_THREADS": "4"})._environment()["OMP_NUM_THREADS"] == "4"


def test_sigterm_is_turned_into_the_ctrl_c_path_that_stops_the_children():
    with pytest.raises(KeyboardInterrupt):
        stack._interrupt(15, None)


def test_a_token_starting_with_a_dash_reaches_rasa_as_the_token():
    import argparse

    command = Stack(token="-Xy_1").rasa_command()
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth-token")
    known, _ = parser.parse_known_args(command[command.index("run") + 1 :])
    assert known.auth_token == "-Xy_1"
