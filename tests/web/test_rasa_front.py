"""web.rasa_front: which lane a request goes to, and that requests and replies pass through intact.

The lanes are replaced by an httpx mock transport; the front runs as the ASGI app it is."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import yaml

from web.rasa_front import KEEP_SECONDS, RasaFront, Router, conversation_of
from web.stack import REPO_ROOT

LANES = ["http://lane-a:1", "http://lane-b:2", "http://lane-c:3"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_new_conversations_go_to_the_lane_with_the_least_work_and_stay_there() -> None:
    router = Router(2)
    # ten citizens start at once: five and five
    lanes = [router.begin(f"s{n}") for n in range(10)]
    assert lanes == [0, 1] * 5
    for lane in lanes[:4]:
        router.end(lane)  # s0..s3 answered: lanes 0 and 1 each still have 3 in progress
    router.end(lanes[4])  # s4 (lane 0) answered too: lane 0 has less work now
    assert router.begin("s10") == 0
    assert [router.begin(f"s{n}") for n in range(10)] == lanes  # each conversation keeps its lane


def test_with_equal_work_the_lane_with_fewer_conversations_gets_the_new_one() -> None:
    router = Router(3)
    lanes = []
    for sender in ("a", "b", "c", "d"):
        lanes.append(router.begin(sender))
        router.end(lanes[-1])
    assert lanes == [0, 1, 2, 0]
    assert router.begin("e") == 1


def test_an_idle_conversation_is_forgotten_after_the_keep_time_and_may_move() -> None:
    clock = Clock()
    router = Router(2, keep_seconds=100, clock=clock)
    router.end(router.begin("a"))  # lane 0
    clock.now = 10
    router.end(router.begin("b"))  # lane 1
    clock.now = 20
    assert router.begin("c") == 0  # equal conversations: the first lane; left in progress
    clock.now = 99
    assert router.begin("a") == 0  # idle 99 s: kept on its lane although lane 0 is busier
    router.end(0)
    clock.now = 200
    assert router.begin("a") == 1  # idle 101 s: forgotten, so it goes where there is less work


def test_requests_of_no_conversation_go_to_the_first_lane() -> None:
    router = Router(3)
    router.begin("busy")  # lane 0 busy
    assert router.begin(None) == 0


def test_the_front_keeps_conversations_longer_than_the_lanes_cache_them() -> None:
    # bot.tracker_store.CachingSQLTrackerStore is right across lanes only if a conversation moves
    # after every lane has dropped its copy (see web.rasa_front).
    endpoints = yaml.safe_load((REPO_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    store = endpoints["tracker_store"]
    assert store["type"] == "bot.tracker_store.CachingSQLTrackerStore"
    # twice the cache's limit leaves room for a message that takes up to the front's timeout
    assert KEEP_SECONDS >= 2 * float(store["max_idle_seconds"])


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/webhooks/rest/webhook", b'{"sender": "s1", "message": "hi"}', "s1"),
        ("/webhooks/rest/webhook", b"not json", None),
        ("/webhooks/rest/webhook", b"[1, 2]", None),
        ("/webhooks/rest/webhook", b'{"sender": 5}', None),
        ("/conversations/s%201/tracker/events", b"", "s 1"),
        ("/conversations/s2/messages", b"{}", "s2"),
        ("/model/parse", b'{"text": "hi"}', None),
        ("/", b"", None),
    ],
)
def test_the_conversation_of_a_request(path: str, body: bytes, expected: str | None) -> None:
    assert conversation_of(path, body) == expected


def run_through_front(requests: list[dict], fail: bool = False) -> tuple[list[httpx.Response], list[httpx.Request]]:
    """Send ``requests`` (httpx.request kwargs) to a front over the mock lanes; return the replies
    and what the lanes received."""
    received: list[httpx.Request] = []

    def lane(request: httpx.Request) -> httpx.Response:
        if fail:
            raise httpx.ConnectError("refused", request=request)
        received.append(request)
        return httpx.Response(
            201, json={"lane": request.url.host, "body": request.content.decode()}, headers={"X-Lane": request.url.host}
        )

    front = RasaFront(LANES, transport=httpx.MockTransport(lane))

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=front), base_url="http://front") as client:
            return [await client.request(**request) for request in requests]

    return asyncio.run(main()), received


def test_messages_of_one_conversation_go_to_one_lane_and_come_back_unchanged() -> None:
    body = json.dumps({"sender": "citizen-7", "message": "lệ phí bao nhiêu"}, ensure_ascii=False).encode()
    replies, received = run_through_front(
        [
            {"method": "POST", "url": "/webhooks/rest/webhook?x=1", "content": body, "headers": {"Authorization": "t"}},
            {"method": "POST", "url": "/webhooks/rest/webhook", "content": body},
            {"method": "GET", "url": "/conversations/citizen-7/tracker?token=abc"},
        ]
    )
    expected_host = "lane-a"  # the first conversation, all lanes idle
    assert [r.url.host for r in received] == [expected_host] * 3
    assert received[0].url.path == "/webhooks/rest/webhook" and received[0].url.query == b"x=1"
    assert received[0].headers["authorization"] == "t"
    assert received[0].content == body
    assert received[2].url.query == b"token=abc"
    assert [r.status_code for r in replies] == [201, 201, 201]
    assert replies[0].json() == {"lane": expected_host, "body": body.decode()}
    assert replies[0].headers["x-lane"] == expected_host
    assert [r.headers["x-assistant-lane"] for r in replies] == ["1", "1", "1"]


def test_conversations_are_spread_and_requests_of_none_go_to_the_first_lane() -> None:
    senders = [f"s{number}" for number in range(6)]
    requests = [
        {"method": "POST", "url": "/webhooks/rest/webhook", "json": {"sender": s, "message": "hi"}}
        for s in [*senders, *reversed(senders)]
    ]
    _, received = run_through_front([*requests, {"method": "GET", "url": "/"}])
    hosts = [r.url.host for r in received]
    first_round = ["lane-a", "lane-b", "lane-c"] * 2
    assert hosts == [*first_round, *reversed(first_round), "lane-a"]


def test_a_lane_that_does_not_answer_gives_a_502_with_a_reason() -> None:
    (reply,), _ = run_through_front(
        [{"method": "POST", "url": "/webhooks/rest/webhook", "json": {"sender": "s", "message": "hi"}}], fail=True
    )
    assert reply.status_code == 502 and reply.headers["x-assistant-lane"] == "1"
    assert reply.json()["error"] == "the assistant is not reachable"


def test_a_front_needs_a_lane() -> None:
    with pytest.raises(ValueError):
        RasaFront([])
