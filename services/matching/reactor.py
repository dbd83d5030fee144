"""Matching's reactor (thin): fetched `support_requested` events → the assigner → acks.

A plain pull loop on the shared durable consumer rather than a per-message subscriber: the assigner
decides a whole fetched batch on one directory snapshot and appends it concurrently, which is what
lets matching keep up with the log. Bad input is dead-lettered at once; a request whose handling
fails is redelivered with backoff and dead-lettered after `max_deliveries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from services.matching.assigner import Assigner, Delivered
from services.matching.puller import Puller
from shared.contracts.base import UnknownEventType
from shared.dlq import dead_letter
from shared.envelope import STREAM, Envelope
from shared.projection import describe
from shared.service import keep_stepping
from shared.topology import Consumer

log = logging.getLogger("peerline.matching")


class Reactor:
    def __init__(
        self, nc: Client, assigner: Assigner, consumer: Consumer, max_deliveries: int, batch: int = 256
    ) -> None:
        self.js, self.assigner, self.consumer = nc.jetstream(), assigner, consumer
        self.max_deliveries, self.batch = max_deliveries, batch
        self._puller = Puller(nc, STREAM, consumer.durable)
        self._started = False

    async def start(self) -> None:
        await self._puller.start()
        self._started = True

    async def run(self, stop: asyncio.Event) -> None:
        if not self._started:
            await self.start()
        try:
            await keep_stepping("matching reactor", self.step, stop)
        finally:
            with contextlib.suppress(Exception):
                await self._puller.stop()

    async def step(self, timeout: float = 1.0) -> int:
        msgs = await self._puller.fetch(self.batch, idle_timeout=timeout)
        if not msgs:
            return 0
        good: list[tuple[Msg, Delivered]] = []
        for msg in msgs:
            try:
                env = Envelope.from_bytes(msg.data)
                env.payload()
            except (ValidationError, UnknownEventType, ValueError) as exc:
                await self._dead_letter(msg, describe(exc))
                continue
            good.append((msg, Delivered(env, msg.metadata.sequence.stream, dict(msg.headers or {}))))
        results = await self.assigner.handle_batch([d for _, d in good])
        for (msg, delivered), failure in zip(good, results, strict=True):
            if failure is None:
                await msg.ack()
                continue
            count = msg.metadata.num_delivered or 1
            reason = describe(failure) if isinstance(failure, Exception) else type(failure).__name__
            if count < self.max_deliveries:
                log.warning("case %s failed (delivery %d): %s", delivered.env.subject, count, reason)
                await msg.nak(delay=0.1 * 2**count)
            else:
                log.error("case %s dead-lettered after %d deliveries", delivered.env.subject, count)
                await self._dead_letter(msg, f"failed {count} times: {reason}")
        return len(msgs)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        await dead_letter(
            self.js,
            self.consumer.durable,
            subject=msg.subject,
            seq=msg.metadata.sequence.stream,
            data=msg.data,
            headers=msg.headers,
            reason=reason,
        )
        await msg.ack()
