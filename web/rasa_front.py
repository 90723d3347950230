"""One address for several Rasa servers, each conversation always served by the same one.

A Rasa server works on one core: its event loop runs the NLU, the policies and the tracker store for
one message at a time. On two cores, ten citizens writing at once queue behind each other in that one
loop (benchmarks/dialogue.md). ``web.stack`` therefore starts several *lanes* (a Rasa server and its
own action server each) and this front on the address the clients know (:5005 by default).

The front keeps each conversation on one lane, so that all of its messages go to one Rasa process.
That keeps two per-process shortcuts valid with several processes: the in-memory lock store (one
message of a conversation at a time) and ``bot.tracker_store.CachingSQLTrackerStore`` (its copy of a
conversation is right only while one process writes that conversation). A conversation the front has
not seen goes to the lane with the fewest messages in progress (then the fewest conversations), so
ten citizens starting at once are split five and five, not by the luck of a hash. The front forgets a
conversation after ``KEEP_SECONDS`` without a message; it may then start on another lane. That is
safe because every lane's cache drops a conversation idle for ``max_idle_seconds`` (endpoints.yml),
well under ``KEEP_SECONDS`` (a test holds the two apart), so the old lane reads it from the
database again if it ever gets it back. ``web.stack`` starts and stops the front with its lanes.

Routing:

- ``POST /webhooks/<channel>/webhook``: the ``sender`` field of the JSON body (the REST channel's
  conversation id);
- ``/conversations/<id>/...`` (Rasa's HTTP API): the id in the path;
- anything else (``/``, ``/status``, ``/model/parse``...): the first lane.

Requests and replies pass through unchanged (method, path, query, headers, body, status), and each
reply says which lane served it in an ``X-Assistant-Lane`` header (1, 2...); a lane that does not
answer gives 502 with a JSON error.

    python -m web.rasa_front --port 5005 --upstream http://127.0.0.1:5105 --upstream http://127.0.0.1:5106
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

import httpx

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the HTTP client recomputes.
_NOT_FORWARDED = {
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    b"host", b"content-length",
}


LANE_HEADER = b"x-assistant-lane"
#: A conversation without a message for this long may move to another lane (see the module docstring).
KEEP_SECONDS = 3600.0


def conversation_of(path: str, body: bytes) -> str | None:
    """The conversation a request belongs to, or None when it belongs to none."""
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "webhooks" and parts[2] == "webhook":
        try:
            sender = json.loads(body).get("sender")
        except (ValueError, AttributeError):  # not JSON or not an object: Rasa will say so
            return None
        return sender if isinstance(sender, str) else None
    if len(parts) >= 2 and parts[0] == "conversations" and parts[1]:
        return unquote(parts[1])
    return None


class Router:
    """Which lane serves which conversation.

    Args:
        lanes: the number of lanes.
        keep_seconds: how long a conversation without a message stays on its lane.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, lanes: int, keep_seconds: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic):
        if lanes < 1:
            raise ValueError("at least one lane is needed")
        self.lanes = lanes
        self.keep_seconds = keep_seconds
        self._clock = clock
        self._in_progress = [0] * lanes
        # conversation -> (lane, when its last request arrived), least recently seen first
        self._conversations: OrderedDict[str, tuple[int, float]] = OrderedDict()
        # how many of those each lane holds, kept up to date: counting them for every new conversation
        # took 0.1-0.3 ms with 1,000-3,000 held, against 2 us
        self._assigned = [0] * lanes

    def begin(self, conversation: str | None) -> int:
        """The lane for a request of ``conversation`` (None: a request of no conversation), counted as
        in progress until ``end``."""
        now = self._clock()
        self._forget_idle(now)
        if conversation is None:
            lane = 0
        elif conversation in self._conversations:
            lane = self._conversations.pop(conversation)[0]
            self._conversations[conversation] = (lane, now)
        else:
            lane = min(range(self.lanes), key=lambda n: (self._in_progress[n], self._assigned[n], n))
            self._conversations[conversation] = (lane, now)
            self._assigned[lane] += 1
        self._in_progress[lane] += 1
        return lane

    def end(self, lane: int) -> None:
        self._in_progress[lane] -= 1

    def _forget_idle(self, now: float) -> None:
        while self._conversations:
            conversation, (lane, seen) = next(iter(self._conversations.items()))
            if now - seen < self.keep_seconds:
                return
            del self._conversations[conversation]
            self._assigned[lane] -= 1


class RasaFront:
    """The ASGI application: forwards each request to its conversation's lane."""

    def __init__(
        self, upstreams: list[str], timeout: float = 120.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if not upstreams:
            raise ValueError("at least one upstream Rasa server is needed")
        self.upstreams = [url.rstrip("/") for url in upstreams]
        self.router = Router(len(self.upstreams))
        self._timeout = timeout
        self._transport = transport  # tests replace the network
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Keep-alive connections to the lanes; no proxy from the environment (loopback only).
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
            self._client = httpx.AsyncClient(
                timeout=self._timeout, limits=limits, trust_env=False, transport=self._transport
            )
        return self._client

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        path = scope["path"]
        lane = self.router.begin(conversation_of(path, body))
        url = self.upstreams[lane] + scope.get("raw_path", path.encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _NOT_FORWARDED]
        lane_header = (LANE_HEADER, str(lane + 1).encode())
        try:
            reply = await self._http().request(scope["method"], url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            log.warning("lane %s did not answer: %s", url, exc)
            error = json.dumps({"error": "the assistant is not reachable", "detail": type(exc).__name__}).encode()
            await _respond(send, 502, [(b"content-type", b"application/json"), lane_header], error)
            return
        finally:
            self.router.end(lane)
        reply_headers = [(k, v) for k, v in reply.headers.raw if k.lower() not in _NOT_FORWARDED]
        await _respond(send, reply.status_code, [*reply_headers, lane_header], reply.content)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m web.rasa_front", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--upstream", action="append", required=True, help="a Rasa server's URL (repeat per lane)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per forwarded message otherwise
    log.info("pinning conversations to %d Rasa servers: %s", len(args.upstream), ", ".join(args.upstream))
    uvicorn.run(RasaFront(args.upstream), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
