"""Load shedding: at most `limit` writes (POST) in flight at once; beyond it, 503 with Retry-After at once.

Intake must not accept what it cannot keep: rather than queue writes without bound (each waiting on
the log while memory and latency grow), it refuses the excess straight away and says when to retry.
Reads and health are never shed. The count lives in this process: with several replicas, each its own.
"""

from __future__ import annotations

import json
import logging

from shared.limits import ASGIApp, Receive, Scope, Send

log = logging.getLogger("peerline.intake")


class InFlight:
    def __init__(self, app: ASGIApp, *, limit: int, retry_after_s: int = 1) -> None:
        if limit < 1:
            raise ValueError("max in-flight must be at least 1")
        self.app, self.limit, self.retry = app, limit, str(retry_after_s).encode()
        self.current = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if self.current >= self.limit:
            self.shed += 1
            if self.shed % 1000 == 1:
                log.warning("overloaded: %d writes in flight; shedding (%d so far)", self.current, self.shed)
            body = json.dumps(
                {"detail": "intake is at capacity; nothing was recorded — retry shortly"}
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [*headers, (b"retry-after", self.retry)],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.current += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.current -= 1
