"""Matching's reactor (thin): fetched `support_requested` events → the assigner → acks.

A plain pull loop on the shared durable consumer rather than a per-message subscriber: the assigner
decides a whole fetched batch on one directory snapshot and appends it in one write, which is what
lets matching keep up with the log. The loop does not wait for that write: it fetches and decides the
next batch meanwhile (up to `in_flight` batches being written; each batch is acked once written), so
a slow write delays only its own batch. Bad input is dead-lettered at once; a request whose handling
fails is redelivered with backoff and dead-lettered after `max_deliveries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from services.matching.assigner import Assigner, Delivered, Prepared
from services.matching.puller import Puller
from shared.contracts.base import UnknownEventType
from shared.dlq import dead_letter
from shared.envelope import STREAM, read_event
from shared.items import describe
from shared.service import keep_stepping
from shared.topology import Consumer

log = logging.getLogger("peerline.matching")


class Reactor:
    def __init__(
        self,
        nc: Client,
        assigner: Assigner,
        consumer: Consumer,
        max_deliveries: int,
        batch: int = 256,
        in_flight: int = 4,
    ) -> None:
        self.js, self.assigner, self.consumer = nc.jetstream(), assigner, consumer
        self.max_deliveries, self.batch = max_deliveries, batch
        self._puller = Puller(nc, STREAM, consumer.durable)
        self._started = False
        self._slots = asyncio.Semaphore(in_flight)
        self._writing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._puller.start()
        self._started = True

    async def run(self, stop: asyncio.Event) -> None:
        if not self._started:
            await self.start()
        try:
            await keep_stepping("matching reactor", self.start_step, stop)
        finally:
            await self.drain()
            with contextlib.suppress(Exception):
                await self._puller.stop()

    async def step(self, timeout: float = 1.0) -> int:
        """Fetch, decide, write and ack one batch."""
        count = await self.start_step(timeout)
        await self.drain()
        return count

    async def drain(self) -> None:
        """Wait for the batches being written (and acked)."""
        while self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    async def start_step(self, timeout: float = 1.0) -> int:
        """Fetch and decide one batch, and start writing it (waits for a free slot first)."""
        await self._slots.acquire()
        try:
            msgs = await self._puller.fetch(self.batch, idle_timeout=timeout)
            prepared, good = (await self._prepare(msgs)) if msgs else (None, [])
        except BaseException:
            self._slots.release()
            raise
        if prepared is None:
            self._slots.release()
            return len(msgs)
        task = asyncio.create_task(self._finish(prepared, good))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        return len(msgs)

    async def _prepare(self, msgs: list[Msg]) -> tuple[Prepared | None, list[tuple[Msg, Delivered]]]:
        good: list[tuple[Msg, Delivered]] = []
        for msg in msgs:
            try:
                env, _ = read_event(msg.data, msg.subject)
            except (ValidationError, UnknownEventType, ValueError) as exc:
                await self._dead_letter(msg, describe(exc))
                continue
            good.append((msg, Delivered(env, msg.metadata.sequence.stream, dict(msg.headers or {}))))
        if not good:
            return None, good
        try:
            return await self.assigner.prepare([d for _, d in good]), good
        except Exception:
            log.exception("matching reactor: deciding a batch failed; deciding its requests one by one")
        return await self._prepare_alone(good)

    async def _prepare_alone(
        self, good: list[tuple[Msg, Delivered]]
    ) -> tuple[Prepared | None, list[tuple[Msg, Delivered]]]:
        """Decide each request of a failed batch on its own: the one that fails is retried with backoff
        (then dead-lettered), the others go on."""
        kept: list[tuple[Msg, Delivered]] = []
        batch: list[Delivered] = []
        decided = []
        now = None
        for msg, delivered in good:
            try:
                one = await self.assigner.prepare([delivered])
            except Exception as exc:
                await self._settle([(msg, delivered)], [exc])
                continue
            kept.append((msg, delivered))
            batch.extend(one.batch)
            decided.extend(one.decided)
            now = one.now
        if now is None:
            return None, kept
        return Prepared(batch, decided, now), kept

    async def _finish(self, prepared: Prepared, good: list[tuple[Msg, Delivered]]) -> None:
        try:
            results = await self.assigner.complete(prepared)
            await self._settle(good, results)
        except Exception:  # unacked requests come back after the ack wait
            log.exception("matching reactor: writing a batch failed")
        finally:
            self._slots.release()

    async def _settle(self, good: list[tuple[Msg, Delivered]], results: list[BaseException | None]) -> None:
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
