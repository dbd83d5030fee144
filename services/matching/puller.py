"""Pulling from a durable consumer without the wait a partly filled batch costs.

A pull request for N messages stays open on the server until N arrive or it expires, so under a
trickle of requests a batch fetch holds the first message back for the whole expiry. Here the idle
wait asks for ONE message (answered the moment one arrives), then a `no_wait` request drains whatever
else is ready (answered at once, ending with a status message).
"""

from __future__ import annotations

import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext


class Puller:
    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = ""
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox)

    async def stop(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    async def _ask(self, request: dict[str, object]) -> None:
        await self.nc.publish(self.next_subject, json.dumps(request).encode(), reply=self._inbox)

    async def _next(self, timeout: float) -> Msg | None:
        """The next delivered message; None for a status (no messages, request expired) or a timeout."""
        assert self._sub is not None, "start() first"
        try:
            msg = await self._sub.next_msg(timeout=timeout)
        except TimeoutError:
            return None
        return None if JetStreamContext.is_status_msg(msg) else msg

    async def fetch(self, batch: int, idle_timeout: float) -> list[Msg]:
        """Up to `batch` messages: waits up to `idle_timeout` for the first, never for the rest."""
        await self._ask({"batch": 1, "expires": int(idle_timeout * 1e9)})
        first = await self._next(idle_timeout + 1.0)
        if first is None:
            return []
        msgs = [first]
        if batch > 1:
            await self._ask({"batch": batch - 1, "no_wait": True})
            while len(msgs) < batch:
                msg = await self._next(5.0)
                if msg is None:
                    break
                msgs.append(msg)
        return msgs
