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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@dataclass
class Stack:
    """The action server and the Rasa server as child processes.

    Args:
        model: the trained Rasa model (``make rasa-model`` writes ``var/rasa/models/ward.tar.gz``).
        log_dir: where each service writes its log.
        env: extra environment for both (``DATABASE_URL``, ``INDEX_DIR``, ``EMBEDDING_MODEL``...).
        rasa_port / action_port: 0 picks free ports.
        tracker_db: the SQLite file of Rasa's tracker store.
    """

    model: Path = DEFAULT_MODEL
    log_dir: Path = REPO_ROOT / "var" / "log"
    env: dict[str, str] = field(default_factory=dict)
    rasa_port: int = 5005
    action_port: int = 5055
    tracker_db: Path = REPO_ROOT / "var" / "rasa" / "tracker.db"
    endpoints: Path = REPO_ROOT / "endpoints.yml"
    token: str = field(default_factory=lambda: os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(16))
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    def _environment(self) -> dict[str, str]:
        # One math thread per service: Rasa (TensorFlow) and the action server (torch) share the cores,
        # and two thread pools each sized to every core slow both down under load (measured in
        # benchmarks/dialogue.md: 10.3 -> 14.5 messages/s). Set these variables to override.
        env = {**SERVICE_THREADS, **os.environ, **self.env}
        env.update(
            ACTION_SERVER_URL=f"{self.action_url}/webhook",
            TRACKER_DB=str(self.tracker_db),
            RASA_TELEMETRY_ENABLED="false",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            ACTIONS_WARM_UP="1",
        )
        return env

    def start(self, timeout: float = 240) -> "Stack":
        if not self.model.is_file():
            raise StackError(f"no trained Rasa model at {self.model}; run `make rasa-model`")
        if not RASA_PYTHON.is_file():
            raise StackError(f"{RASA_PYTHON} is missing; run `make setup`")
        self.rasa_port = self.rasa_port or free_port()
        self.action_port = self.action_port or free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        use_write_ahead_log(self.tracker_db)
        env = self._environment()
        actions_log = self.log_dir / "actions.log"
        rasa_log = self.log_dir / "rasa.log"
        try:
            actions = self._spawn(
                [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(self.action_port)], env, actions_log
            )
            rasa = self._spawn(self.rasa_command(), env, rasa_log)
            _wait_until_up(f"{self.action_url}/health", actions, actions_log, timeout)
            _wait_until_up(f"{self.rasa_url}/", rasa, rasa_log, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def rasa_command(self) -> list[str]:
        return [
            # `rasa run` with one speed fix applied first (bot/server.py)
            str(RASA_PYTHON), "-m", "bot.server", "run",
            "--model", str(self.model),
            "--endpoints", str(self.endpoints),
            "--credentials", "credentials.yml",
            "--interface", "127.0.0.1",
            "--port", str(self.rasa_port),
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
    args = parser.parse_args(argv)
    stack = Stack(model=args.model, rasa_port=args.rasa_port, action_port=args.action_port)
    # A service manager stops us with SIGTERM: stop the children too (they run in their own sessions).
    signal.signal(signal.SIGTERM, _interrupt)
    print("starting the action server and Rasa (the first start loads models; up to a minute)...", flush=True)
    try:
        stack.start()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Rasa (REST channel): {stack.rasa_url}/webhooks/rest/webhook", flush=True)
    print(f"Action server:       {stack.action_url}/webhook", flush=True)
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
