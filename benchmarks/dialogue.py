"""End-to-end measurement of the running assistant: conversation quality and per-message latency.

Starts the action server and Rasa (``web.stack``) on the current state (``DATABASE_URL``,
``INDEX_DIR``, the trained model in ``var/rasa/models``) and replays labelled conversations over the
REST channel, as the web app will.

    python -m benchmarks.dialogue quality [--conversations FILE] [--details OUT]
    python -m benchmarks.dialogue latency [--conversations FILE] [--concurrency 1 10] [--think 0 3]

Quality (FILE in the format of benchmarks/conversations/README.md): a turn expecting an answer is
right when the reply's payload names the expected procedure and aspect; when the bot clarifies with
the expected procedure among the options, the benchmark clicks that option, as a citizen would, and
judges the answer that follows. A conversation is right when every scored turn is.

Latency: wall-clock time of each REST call (NLU, policies, the action server and retrieval), over
every turn of every conversation, with N conversations running at once, each sending its next message
right after the reply (``--think 0``, the worst case) or after a pause of 0.5-1.5 times ``--think``
seconds (reading the reply and typing the next message).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from web.stack import Stack, default_lanes

DEFAULT_CONVERSATIONS = Path(__file__).resolve().parent / "conversations" / "dev.jsonl"


def read_conversations(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON: {exc}") from None
    return rows


def post_json(url: str, payload: dict) -> object:
    """POST ``payload`` as JSON to ``url`` and return the decoded reply."""
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def send(rasa_url: str, sender: str, text: str) -> tuple[list[dict], float]:
    start = time.perf_counter()
    messages = post_json(f"{rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
    return messages, time.perf_counter() - start


def payload_of(messages: list[dict]) -> dict:
    """The machine-readable payload of a bot turn (the first one), or ``{"kind": "none"}``."""
    return next((m["custom"] for m in messages if "custom" in m), {"kind": "none"})


@dataclass
class TurnResult:
    text: str
    expect: dict
    got: dict
    right: bool | None  # None: not scored
    clicked: bool = False


@dataclass
class ConversationResult:
    id: str
    tags: list[str]
    turns: list[TurnResult] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return any(t.expect["kind"] in ("answer", "answer_or_clarify") for t in self.turns)

    @property
    def right(self) -> bool:
        return all(t.right is not False for t in self.turns)


def judge(expect: dict, got: dict) -> bool | None:
    kind = expect["kind"]
    if kind == "any":
        return None
    if kind == "handoff":
        return got.get("kind") == "handoff"
    return got.get("kind") == "answer" and got.get("procedure") == expect["procedure"] and got.get("aspect") == expect["aspect"]


def play(rasa_url: str, conversation: dict, run_id: str) -> ConversationResult:
    sender = f"bench-{run_id}-{conversation['id']}"
    result = ConversationResult(conversation["id"], conversation.get("tags", []))
    for turn in conversation["turns"]:
        messages, _ = send(rasa_url, sender, turn["text"])
        got = payload_of(messages)
        clicked = False
        expected = turn["expect"].get("procedure")
        if got.get("kind") == "clarify" and expected in got.get("options", []):
            messages, _ = send(rasa_url, sender, f'/choose_procedure{{"procedure":"{expected}"}}')
            got, clicked = payload_of(messages), True
        result.turns.append(TurnResult(turn["text"], turn["expect"], got, judge(turn["expect"], got), clicked))
    return result


def quality(rasa_url: str, conversations: list[dict], details: Path | None) -> dict:
    run_id = uuid.uuid4().hex[:8]
    results = [play(rasa_url, c, run_id) for c in conversations]
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    scored = [t for r in results for t in r.turns if t.right is not None]
    follow_ups = [t for r in results if "follow_up" in r.tags or len(r.turns) > 1 for t in r.turns[1:] if t.right is not None]
    outcome = Counter(
        ("right" if t.right else "wrong") + ":" + t.got.get("kind", "none") + (":clicked" if t.clicked else "")
        for t in scored
        if t.expect["kind"] != "handoff"
    )
    summary = {
        "conversations": len(results),
        "answerable_conversations_right": _share(sum(r.right for r in answerable), len(answerable)),
        "unanswerable_handed_off": _share(
            sum(any(t.got.get("kind") == "handoff" for t in r.turns) for r in unanswerable), len(unanswerable)
        ),
        "turns_right": _share(sum(bool(t.right) for t in scored), len(scored)),
        "follow_up_turns_right": _share(sum(bool(t.right) for t in follow_ups), len(follow_ups)),
        "answer_turn_outcomes": dict(sorted(outcome.items())),
        "answer_turns_wrong_procedure": sum(
            1
            for t in scored
            if t.expect["kind"] != "handoff" and t.got.get("kind") == "answer" and t.got.get("procedure") != t.expect.get("procedure")
        ),
    }
    by_tag: dict[str, list[bool]] = {}
    for r in results:
        for tag in r.tags:
            by_tag.setdefault(tag, []).append(r.right)
    summary["by_tag"] = {tag: _share(sum(v), len(v)) for tag, v in sorted(by_tag.items())}
    if details:
        with details.open("w", encoding="utf-8") as out:
            for r in results:
                for t in r.turns:
                    out.write(json.dumps({"id": r.id, "text": t.text, "expect": t.expect, "got": t.got, "right": t.right, "clicked": t.clicked}, ensure_ascii=False) + "\n")
    return summary


def _share(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.3f}" if total else "0/0"


def latency(rasa_url: str, conversations: list[dict], concurrency: int, think: float = 0.0) -> dict:
    run_id = uuid.uuid4().hex[:8]
    timings: list[float] = []
    lock = threading.Lock()

    def replay(numbered: tuple[int, dict]) -> None:
        number, conversation = numbered
        # Each replay is a new conversation (a repeated round must not continue the first one's).
        sender = f"load-{run_id}-{number}-{conversation['id']}"
        # Citizens neither start nor type in lockstep: with a pause, the first message comes within one
        # pause of the start, and each pause lasts 0.5-1.5 times the mean (seeded per conversation).
        pauses = random.Random(conversation["id"])
        if think:
            time.sleep(pauses.uniform(0, think))
        for turn_number, turn in enumerate(conversation["turns"]):
            if think and turn_number:
                time.sleep(pauses.uniform(0.5 * think, 1.5 * think))  # reading the reply, typing the next
            _, seconds = send(rasa_url, sender, turn["text"])
            with lock:
                timings.append(seconds)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(replay, enumerate(conversations)))
    wall = time.perf_counter() - start
    timings.sort()
    return {
        "concurrency": concurrency,
        "think_seconds": think,
        "messages": len(timings),
        "p50_ms": round(1000 * statistics.median(timings), 1),
        "p95_ms": round(1000 * timings[max(0, int(round(0.95 * len(timings))) - 1)], 1),
        "max_ms": round(1000 * timings[-1], 1),
        "messages_per_second": round(len(timings) / wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dialogue", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["quality", "latency"])
    parser.add_argument("--conversations", type=Path, default=DEFAULT_CONVERSATIONS)
    parser.add_argument("--details", type=Path, help="quality: write one JSON line per turn here")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--rounds", type=int, default=1, help="latency: replay the conversations this many times")
    parser.add_argument(
        "--think", type=float, nargs="+", default=[0.0],
        help="latency: mean seconds a citizen takes between their messages (0 = back to back)",
    )
    parser.add_argument("--lanes", type=int, help="Rasa servers sharing the load (default: as `make run`)")
    args = parser.parse_args(argv)
    conversations = read_conversations(args.conversations)
    with Stack(rasa_port=0, action_port=0, lanes=args.lanes or default_lanes()) as stack:
        # Every lane loads its models before timing: the front gives each new conversation, one at a
        # time, to the lane holding the fewest.
        for number in range(len(stack.running_lanes)):
            send(stack.rasa_url, f"warm-up-{number}", "đăng ký khai sinh cần gì")
        if args.mode == "quality":
            print(json.dumps(quality(stack.rasa_url, conversations, args.details), ensure_ascii=False, indent=2))
        else:
            for think in args.think:
                for n in args.concurrency:
                    print(json.dumps(latency(stack.rasa_url, conversations * args.rounds, n, think)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
