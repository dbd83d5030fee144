"""Publishes generated inputs through the real bus, each as the identity that may publish it, and keeps
what the server answered (accepted at a sequence, a duplicate, or refused)."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.fuzz.inputs import Input, inputs
from tests.support.bus import connect

WINDOW = 32  # publishes awaiting their acknowledgement at once


@dataclass(frozen=True)
class Sent:
    kind: str
    subject: str
    msg_id: str | None
    digest: str  # sha-256 of the bytes sent
    size: int
    seq: int | None = None  # where the server stored it (None: refused, or a duplicate)
    refused: str = ""


@dataclass
class Publisher:
    url: str
    loop: asyncio.AbstractEventLoop
    sent: list[Sent] = field(default_factory=list)
    clients: dict[str, Client] = field(default_factory=dict)

    async def _js(self, user: str) -> JetStreamContext:
        if user not in self.clients:
            self.clients[user] = await connect(self.url, user)
        return self.clients[user].jetstream()

    async def _publish(self, item: Input) -> None:
        msg_id = (item.headers or {}).get("Nats-Msg-Id")
        digest = hashlib.sha256(item.data).hexdigest()
        try:
            js = await self._js(item.user)
            ack = await js.publish(item.subject, item.data, timeout=10, headers=item.headers)
        except Exception as exc:  # refused: too large, not allowed, or no answer
            refused = type(exc).__name__
            self.sent.append(Sent(item.kind, item.subject, msg_id, digest, len(item.data), refused=refused))
            return
        seq = None if ack.duplicate else ack.seq
        self.sent.append(Sent(item.kind, item.subject, msg_id, digest, len(item.data), seq))

    def run(self, count: int) -> None:
        """Runs in a worker thread: hypothesis draws `count` inputs, each published on `self.loop`."""
        pending: list[Future[None]] = []

        @settings(
            max_examples=count,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(item=inputs())
        def send(item: Input) -> None:
            pending.append(asyncio.run_coroutine_threadsafe(self._publish(item), self.loop))
            while len(pending) > WINDOW:
                pending.pop(0).result(60)

        send()
        for future in pending:
            future.result(60)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    def summary(self) -> Counter[str]:
        out: Counter[str] = Counter(sent=len(self.sent))
        for s in self.sent:
            out["accepted" if s.seq is not None else "refused" if s.refused else "duplicate"] += 1
        return out
