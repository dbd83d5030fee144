"""Guards in front of every route of every service: a per-client rate limit (429), a body size limit
(413, checked before anything parses the body, chunked bodies too) and a text check (a body that is not
UTF-8, or JSON naming a lone surrogate, is a 422 on `body` — it could never be stored or answered).

The client is the verified principal of the bearer token when it has a valid one, else its address (a
new garbage token per request does not make a new client); behind a proxy, run uvicorn with
`--proxy-headers` so the address is the real client's. The buckets live in this process: with several
replicas each enforces its own share.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]
Identify = Callable[[str], str | None]  # a bearer token → a stable client name, None if not valid
EXEMPT = {"/healthz"}
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class HttpLimits:
    max_body: int = 64 * 1024
    per_minute: int = 1200
    burst: int = 100


@dataclass
class Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets per client: `burst` at once, refilled at `per_minute`."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = per_minute / 60.0, float(burst), clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def allow(self, client: str) -> float:
        """0 if allowed now, else seconds until a token is free."""
        now = self.clock()
        b = self.buckets.pop(client, None) or Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
        b.at = now
        self.buckets[client] = b
        while len(self.buckets) > 100_000:
            self.buckets.popitem(last=False)
        if b.tokens >= 1:
            b.tokens -= 1
            return 0.0
        return (1 - b.tokens) / self.rate if self.rate else 60.0


def client_key(scope: Scope, identify: Identify | None) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and identify is not None:
            scheme, _, token = value.decode("latin-1").partition(" ")
            who = identify(token.strip()) if scheme.lower() == "bearer" else None
            if who is not None:
                return "p:" + who
    host = (scope.get("client") or ("?", 0))[0]
    return f"a:{host}"


def unreadable(body: bytes) -> str | None:
    """Why this body can never be text (None when it can): invalid UTF-8, or JSON with a lone surrogate."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not valid UTF-8"
    if SURROGATE_ESCAPE.search(body) is None:
        return None
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "the body holds a lone surrogate (not a character)"
    except ValueError:
        return None  # not JSON: the route's own parsing answers
    return None


async def reply(send: Send, status: int, detail: Any, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Limits:
    def __init__(
        self, app: ASGIApp, *, max_body: int, limiter: RateLimiter, identify: Identify | None = None
    ) -> None:
        self.app, self.max_body, self.limiter, self.identify = app, max_body, limiter, identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.allow(client_key(scope, self.identify))
        if wait:
            retry = str(max(1, int(wait + 0.999))).encode()
            await reply(send, 429, "too many requests; slow down", [(b"retry-after", retry)])
            return
        too_big = f"body larger than {self.max_body} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await reply(send, 413, too_big, [])
                return
        # Read the whole (bounded) body first, so an oversized chunked body is refused before any route runs.
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body:
                await reply(send, 413, too_big, [])
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False
        problem = unreadable(body) if body else None
        if problem:
            await reply(send, 422, [{"loc": ["body"], "msg": problem, "type": "unicode"}], [])
            return

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
