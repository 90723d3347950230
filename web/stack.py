"""Start and stop the product's services: the action server (.venv) and the Rasa server (.venv-rasa).

``make run`` uses ``python -m web.stack``; the end-to-end tests and the latency benchmark use
``Stack`` to run the same processes on free ports with their own database and index.

Rasa binds to loopback, with its HTTP API behind a token; the REST channel is what the web app calls.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"
DEFAULT_MODEL = REPO_ROOT / "var" / "rasa" / "models" / "ward.tar.gz"


SERVICE_THREADS = {
    "OMP_NUM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


class StackError(RuntimeError):
    """A service did not start; the message says which and ends with its log."""


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def free_ports(count: int) -> list[int]:
    """``count`` different ports nobody listens on (all held open while choosing, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def use_write_ahead_log(database: Path) -> None:
    """Put Rasa's SQLite tracker store in write-ahead-log mode (the mode is kept in the file): a commit
    then appends to the log instead of rewriting pages through a rollback journal, and readers do not
    block the writer."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL").fetchall()
    connection.close()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{url}: the process exited with {process.returncode}\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise StackError(f"{url} did not answer within {timeout:.0f} s\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def default_lanes() -> int:
    """``RASA_LANES`` or, unset, one lane per core up to two (more lanes on two cores only add memory:
    three measured no faster than two, benchmarks/dialogue.md)."""
    configured = os.environ.get("RASA_LANES", "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise StackError(f"RASA_LANES must be a whole number of at least 1, not {configured!r}")
        return int(configured)
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class Lane:
    """One Rasa server and the action server it calls."""

    rasa_port: int
    action_port: int
    name: str  # "" for the first lane, "-2", "-3"... in log file names

    @property
    def rasa_url(self) -> str:
        return local_url(self.rasa_port)

    @property
    def action_url(self) -> str:
        return local_url(self.action_port)


@dataclass
class Stack:
    """The action server and the Rasa server as child processes, in one or more lanes.

    With one lane, Rasa listens on ``rasa_port``. With several (``lanes``), each lane is a Rasa server
    and its own action server on free ports, and ``web.rasa_front`` listens on ``rasa_port`` and pins
    every conversation to one lane, so clients see one Rasa either way.

    Args:
        model: the trained Rasa model (``make rasa-model`` writes ``var/rasa/models/ward.tar.gz``).
        log_dir: where each service writes its log.
        env: extra environment for all (``DATABASE_URL``, ``INDEX_DIR``, ``EMBEDDING_MODEL``...).
        rasa_port / action_port: 0 picks free ports (``action_port`` is the first lane's).
        tracker_db: the SQLite file of Rasa's tracker store (shared by the lanes).
        lanes: how many Rasa servers share the load.
    """

    model: Path = DEFAULT_MODEL
    log_dir: Path = REPO_ROOT / "var" / "log"
    env: dict[str, str] = field(default_factory=dict)
    rasa_port: int = 5005
    action_port: int = 5055
    tracker_db: Path = REPO_ROOT / "var" / "rasa" / "tracker.db"
    endpoints: Path = REPO_ROOT / "endpoints.yml"
    token: str = field(default_factory=lambda: os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(16))
    lanes: int = 1
    processes: list[subprocess.Popen] = field(default_factory=list)
    running_lanes: list[Lane] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        """Where clients talk to the assistant (the front when there are several lanes)."""
        return local_url(self.rasa_port)

    def _environment(self, lane: Lane | None = None) -> dict[str, str]:
        # One math thread per service: Rasa (TensorFlow) and the action server (torch) share the cores,
        # and two thread pools each sized to every core slow both down under load (measured in
        # benchmarks/dialogue.md: 10.3 -> 14.5 messages/s). Set these variables to override.
        env = {**SERVICE_THREADS, **os.environ, **self.env}
        if lane is not None:  # a lane's Rasa calls the lane's action server
            env["ACTION_SERVER_URL"] = f"{lane.action_url}/webhook"
        env.update(
            TRACKER_DB=str(self.tracker_db),
            RASA_TELEMETRY_ENABLED="false",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            ACTIONS_WARM_UP="1",
        )
        return env

    def _plan_lanes(self) -> list[Lane]:
        if self.lanes < 1:
            raise StackError(f"a stack needs at least one lane, not {self.lanes}")
        spare = free_ports(2 * self.lanes + 2)
        spare = [port for port in spare if port not in (self.rasa_port, self.action_port)]
        self.rasa_port = self.rasa_port or spare.pop()
        self.action_port = self.action_port or spare.pop()
        if self.lanes == 1:
            return [Lane(self.rasa_port, self.action_port, "")]
        return [
            Lane(spare.pop(), self.action_port if number == 1 else spare.pop(), "" if number == 1 else f"-{number}")
            for number in range(1, self.lanes + 1)
        ]

    def start(self, timeout: float = 240) -> "Stack":
        if not self.model.is_file():
            raise StackError(f"no trained Rasa model at {self.model}; run `make rasa-model`")
        if not RASA_PYTHON.is_file():
            raise StackError(f"{RASA_PYTHON} is missing; run `make setup`")
        lanes = self._plan_lanes()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        use_write_ahead_log(self.tracker_db)
        waits = []
        try:
            for lane in lanes:
                env = self._environment(lane)
                actions_log = self.log_dir / f"actions{lane.name}.log"
                rasa_log = self.log_dir / f"rasa{lane.name}.log"
                actions = self._spawn(
                    [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(lane.action_port)],
                    env,
                    actions_log,
                )
                rasa = self._spawn(self.rasa_command(lane.rasa_port), env, rasa_log)
                waits += [(f"{lane.action_url}/health", actions, actions_log), (f"{lane.rasa_url}/", rasa, rasa_log)]
            if len(lanes) > 1:
                front_log = self.log_dir / "front.log"
                upstreams = [arg for lane in lanes for arg in ("--upstream", lane.rasa_url)]
                front = self._spawn(
                    [sys.executable, "-m", "web.rasa_front", "--port", str(self.rasa_port), *upstreams],
                    self._environment(),
                    front_log,
                )
                waits.append((f"{self.rasa_url}/", front, front_log))
            for url, process, log in waits:
                _wait_until_up(url, process, log, timeout)
        except BaseException:
            self.stop()
            raise
        self.running_lanes = lanes
        return self

    def rasa_command(self, port: int | None = None) -> list[str]:
        return [
            # `rasa run` with one speed fix applied first (bot/server.py)
            str(RASA_PYTHON), "-m", "bot.server", "run",
            "--model", str(self.model),
            "--endpoints", str(self.endpoints),
            "--credentials", "credentials.yml",
            "--interface", "127.0.0.1",
            "--port", str(port or self.rasa_port),
            # One argument with "=": a token may start with "-", which argparse would read as an option.
            "--enable-api", f"--auth-token={self.token}",
        ]

    def _spawn(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        handle = log.open("ab")
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        self.running_lanes = []

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.stack", description="Run the action server and Rasa.")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    parser.add_argument("--action-port", type=int, default=int(os.environ.get("ACTION_PORT", 5055)))
    parser.add_argument("--lanes", type=int, help="Rasa servers sharing the load (default: RASA_LANES, else up to 2 by cores)")
    args = parser.parse_args(argv)
    try:
        lanes = args.lanes or default_lanes()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = Stack(model=args.model, rasa_port=args.rasa_port, action_port=args.action_port, lanes=lanes)
    # A service manager stops us with SIGTERM: stop the children too (they run in their own sessions).
    signal.signal(signal.SIGTERM, _interrupt)
    print("starting the action server and Rasa (the first start loads models; up to a minute)...", flush=True)
    try:
        stack.start()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Rasa (REST channel): {stack.rasa_url}/webhooks/rest/webhook", flush=True)
    for number, lane in enumerate(stack.running_lanes, 1):
        label = f"lane {number}: " if len(stack.running_lanes) > 1 else ""
        print(f"  {label}Rasa {lane.rasa_url}, action server {lane.action_url}/webhook", flush=True)
    print(f"Logs:                {stack.log_dir}/  (Ctrl-C stops everything)", flush=True)
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        print("error: a service stopped; see the logs", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
