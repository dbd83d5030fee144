"""The reactor's batch option: a reaction that handles a whole fetched batch at once (matching's
assigner; escalation's risk flags, read this way for speed).

Measured faster than per-message handling where one decision can cover a batch (one directory read,
one write for all). Unlike faststream's batch subscriber, which waits for a batch to fill, the idle
wait here asks for ONE message (answered the moment one arrives), then a `no_wait` request drains
whatever else is ready; and the next batch is fetched and decided while earlier ones are still being
written (up to `in_flight`), so a slow write delays only its own batch.

Decoding is shared.reactor's, settling shared.settlement's: undecodable → dead letter at once; an
item the handler failed → nak with backoff, then dead letter; done → ack. The handler:

    prepare(batch) -> (prepared | None, per item: None or what failed it)
    complete(prepared) -> per item prepare did not fail: None or what failed it

faststream never reads such a durable, so `documented` declares it as a subscriber on a router of its own
for the AsyncAPI document (channel, message, description), never included in a broker that starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, Protocol

from faststream.nats import NatsRouter
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from shared.envelope import STREAM
from shared.reactor import Delivered, decode_msg, reaction
from shared.service import keep_stepping
from shared.settlement import Settlement, Undecodable
from shared.topology import Consumer

log = logging.getLogger("peerline.reactor")
Results = list[BaseException | None]


async def each(work: Iterable[Awaitable[object]]) -> Results:
    """Run independent items of a batch at once; per item None (done) or the exception that failed it. A
    cancellation is raised, never returned as an item's failure."""
    done = await asyncio.gather(*work, return_exceptions=True)
    for result in done:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
    return [result if isinstance(result, Exception) else None for result in done]


class BatchHandler(Protocol):
    async def prepare(self, batch: list[Delivered]) -> tuple[Any, Results]: ...

    async def complete(self, prepared: Any) -> Results: ...


class Puller:
    """Up to `batch` messages from a durable: waits for the first, never for the rest."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = ""
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()  # under the identity's private inbox prefix
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


def documented(spec: Consumer, how: str) -> NatsRouter:
    """A batch reaction as faststream documents a subscriber, for the AsyncAPI document only: include the
    router in a broker that documents and is never started (a BatchReaction reads the durable itself)."""
    router = NatsRouter()

    async def batch_reaction(delivered: Delivered) -> None:
        raise RuntimeError(f"{spec.durable} is read by a BatchReaction; this subscriber only documents it")

    reaction(router, spec, description=how)(batch_reaction)
    return router


class BatchReaction:
    def __init__(
        self,
        nc: Client,
        spec: Consumer,
        handler: BatchHandler,
        settlement: Settlement,
        *,
        batch: int = 256,
        in_flight: int = 4,
    ) -> None:
        self.spec, self.handler, self.settlement, self.batch = spec, handler, settlement, batch
        if settlement.js is None:
            settlement.js = nc.jetstream()
        self._puller = Puller(nc, STREAM, spec.durable)
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
            await keep_stepping(self.spec.durable, self.start_step, stop)
        finally:
            await self.drain()
            with contextlib.suppress(Exception):
                await self._puller.stop()

    async def step(self, timeout: float = 1.0) -> int:
        """Fetch, decide, complete and settle one batch."""
        count = await self.start_step(timeout)
        await self.drain()
        return count

    async def drain(self) -> None:
        """Wait for the batches being completed (and settled)."""
        while self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    async def start_step(self, timeout: float = 1.0) -> int:
        """Fetch and decide one batch, and start completing it (waits for a free slot first)."""
        await self._slots.acquire()
        try:
            msgs = await self._puller.fetch(self.batch, idle_timeout=timeout)
            prepared, kept = await self._prepare(msgs)
        except BaseException:
            self._slots.release()
            raise
        if prepared is None:
            self._slots.release()
            return len(msgs)
        task = asyncio.create_task(self._complete(prepared, kept))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        return len(msgs)

    async def _prepare(self, msgs: list[Msg]) -> tuple[Any, list[Msg]]:
        good: list[tuple[Msg, Delivered]] = []
        for msg in msgs:
            try:
                good.append((msg, decode_msg(msg)))
            except Undecodable as exc:
                await self.settlement.dead(msg, str(exc))
        if not good:
            return None, []
        prepared, failures = await self.handler.prepare([d for _, d in good])
        kept = []
        for (msg, _), failure in zip(good, failures, strict=True):
            if failure is None:
                kept.append(msg)
            else:
                await self.settlement.failed(msg, failure)
        return (prepared if kept else None), kept

    async def _complete(self, prepared: Any, msgs: list[Msg]) -> None:
        try:
            results = await self.handler.complete(prepared)
            for msg, failure in zip(msgs, results, strict=True):
                await (self.settlement.done(msg) if failure is None else self.settlement.failed(msg, failure))
        except Exception:  # unsettled messages come back after the ack wait
            log.exception("%s: completing a batch failed", self.spec.durable)
        finally:
            self._slots.release()
