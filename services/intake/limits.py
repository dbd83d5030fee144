"""Bad-input guards in front of every route: a body size limit (413) and a per-client rate limit (429).

The client is its bearer token (hashed) when it sends one, else its address; behind a proxy, run
uvicorn with `--proxy-headers` so the address is the real client's. The buckets live in this process:
with several replicas each enforces its own share.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]
EXEMPT = {"/healthz"}


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


def client_key(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return "t:" + hashlib.sha256(value).hexdigest()[:32]
    host = (scope.get("client") or ("?", 0))[0]
    return f"a:{host}"


async def _reply(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
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
    def __init__(self, app: ASGIApp, *, max_body: int, limiter: RateLimiter) -> None:
        self.app, self.max_body, self.limiter = app, max_body, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.allow(client_key(scope))
        if wait:
            retry = str(max(1, int(wait + 0.999))).encode()
            await _reply(send, 429, "too many requests; slow down", [(b"retry-after", retry)])
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await _reply(send, 413, f"body larger than {self.max_body} bytes", [])
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
                await _reply(send, 413, f"body larger than {self.max_body} bytes", [])
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
