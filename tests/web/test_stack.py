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


def test_one_lane_is_rasa_itself_on_the_clients_port() -> None:
    (lane,) = Stack(rasa_port=5005, action_port=5055, lanes=1)._plan_lanes()
    assert (lane.rasa_port, lane.action_port, lane.name) == (5005, 5055, "")


def test_several_lanes_sit_behind_the_clients_port_each_with_its_own_action_server() -> None:
    service = Stack(rasa_port=5005, action_port=5055, lanes=3)
    lanes = service._plan_lanes()
    assert [lane.name for lane in lanes] == ["", "-2", "-3"]
    assert lanes[0].action_port == 5055  # the first lane's action server keeps the known port
    ports = [port for lane in lanes for port in (lane.rasa_port, lane.action_port)]
    assert len(set(ports)) == 6 and 5005 not in ports  # the front has 5005
    assert service._environment(lanes[1])["ACTION_SERVER_URL"] == f"{lanes[1].action_url}/webhook"


def test_a_stack_without_lanes_is_refused() -> None:
    with pytest.raises(stack.StackError):
        Stack(lanes=0)._plan_lanes()


def test_the_number_of_lanes_comes_from_the_environment_or_the_cores(monkeypatch) -> None:
    monkeypatch.setenv("RASA_LANES", "3")
    assert stack.default_lanes() == 3
    for wrong in ("0", "two", "-1"):
        monkeypatch.setenv("RASA_LANES", wrong)
        with pytest.raises(stack.StackError, match="RASA_LANES"):
            stack.default_lanes()
    monkeypatch.delenv("RASA_LANES")
    monkeypatch.setattr(stack.os, "cpu_count", lambda: 8)
    assert stack.default_lanes() == 2
    monkeypatch.setattr(stack.os, "cpu_count", lambda: 1)
    assert stack.default_lanes() == 1


def test_free_ports_are_all_different_and_free() -> None:
    import socket

    ports = stack.free_ports(20)
    assert len(set(ports)) == 20
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[0]))  # nobody kept it


def test_lanes_on_free_ports_get_different_ports() -> None:
    service = Stack(rasa_port=0, action_port=0, lanes=2)
    lanes = service._plan_lanes()
    ports = [service.rasa_port, *(port for lane in lanes for port in (lane.rasa_port, lane.action_port))]
    assert len(set(ports)) == 5 and lanes[0].action_port == service.action_port
