"""Projection runner: a durable pull consumer feeding one SQL read model, exactly once.

For each fetched batch, in stream order: events already applied (seq <= tracked) are acked and
skipped; the rest are applied and the tracking row advanced in ONE transaction; acks go out only
after the commit. An event that cannot be parsed is dead-lettered at once. An event whose handler
fails is retried: the prefix before it is committed, the runner backs off, then naks it and everything
after it (without delay, so they come back first and in order); after `max_deliveries` it is
dead-lettered and the consumer carries on.

A runner may linger (`linger_s`, e.g. LINGER_S = 50 ms): live, under light traffic, a batch that came
back short is followed by that pause before the next fetch, so what arrived meanwhile is applied in one
transaction instead of one each. Escalation's view does (`python -m bench.escalation`: it halved the CPU
the view costs per event at 200 events/s, in the process where the risk-flag reaction a person waits on
runs). The first event after a quiet spell is applied at once, the rest at most that much later;
catching up (full batches) never pauses. Off by default: a view a person reads right after acting on it
stays as close behind the log as it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge
from sqlalchemy import Engine

from shared.dlq import dead_letter
from shared.envelope import STREAM
from shared.items import Item, parse, parse_raw
from shared.leader import Leadership
from shared.projection import Failed, Projection, apply_batch, ensure_schema, position
from shared.topology import Consumer

log = logging.getLogger("peerline.projection")
LINGER_S = 0.05
APPLIED = Counter("peerline_projection_events_total", "events applied to a projection", ["projection"])
DEAD = Counter("peerline_projection_dead_letters_total", "events a projection dead-lettered", ["projection"])
POSITION = Gauge("peerline_projection_position", "last stream sequence applied", ["projection"])
_tracer = trace.get_tracer("peerline.projection")


class ProjectionRunner:
    def __init__(
        self,
        js: JetStreamContext,
        engine: Engine,
        projection: Projection,
        consumer: Consumer,
        *,
        batch: int = 500,
        max_deliveries: int = 5,
        backoff: Sequence[float] = (0.05, 0.25, 1.0, 3.0),
        on_committed: Callable[[Sequence[Item]], None] | None = None,
        linger_s: float = 0.0,
    ) -> None:
        check_subscription(projection, consumer)
        self.js, self.engine, self.projection, self.consumer = js, engine, projection, consumer
        self.batch, self.max_deliveries, self.backoff = batch, max_deliveries, backoff
        self.on_committed, self.linger_s = on_committed, linger_s
        self._attempts: dict[int, int] = {}  # seq -> failed applies in this process
        self._sub: JetStreamContext.PullSubscription | None = None
        self._handled: tuple[int, int] | None = None  # (consumer seq, stream seq) of the last delivery done
        self.leader = Leadership(engine, projection.name)

    async def start(self) -> None:
        self._handled = None
        await asyncio.to_thread(ensure_schema, self.engine, self.projection)
        self._sub = await self.js.pull_subscribe_bind(self.consumer.durable, stream=STREAM)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop`; with several replicas, only the lock holder consumes (see shared.leader)."""
        leader = self.leader
        try:
            while not stop.is_set():
                if leader.needed and not await asyncio.to_thread(leader.hold):
                    await self.stop()
                    await _wait(stop, 2.0)
                    continue
                try:
                    if self._sub is None:
                        await self.start()
                    handled = await self.step(timeout=1.0)
                    if 0 < handled < self.batch and self.linger_s:  # light traffic: let a few gather
                        await _wait(stop, self.linger_s)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a broken connection or database: log, wait, carry on
                    log.exception("projection %s: batch failed; retrying", self.projection.name)
                    await _wait(stop, 1.0)
        finally:
            await self.stop()
            await asyncio.to_thread(leader.release)

    async def catch_up(self) -> None:
        """Apply what the log already holds before serving (a standby replica waits for the active one)."""
        if not await asyncio.to_thread(self.leader.hold):
            await self.caught_up()
            return
        if self._sub is None:
            await self.start()
        # A fetch finding nothing waits out its whole timeout, so the server is asked what is left
        # instead: a batch that came back full is followed by the next at once, a short one by a look.
        while (await self.js.consumer_info(STREAM, self.consumer.durable)).num_pending:
            while await self.step(timeout=0.2) == self.batch:
                pass

    async def caught_up(self, poll_s: float = 0.1) -> None:
        """Return once the view holds everything already in the log (whichever replica applies it)."""
        while True:
            info = await self.js.consumer_info(STREAM, self.consumer.durable)
            if not info.num_pending and not info.num_ack_pending:
                return
            await asyncio.sleep(poll_s)

    async def stop(self) -> None:
        """Leave the subscription (the durable consumer stays); a draining connection need not wait on it."""
        self._handled = None
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def step(self, timeout: float = 1.0) -> int:
        """Fetch and process one batch; returns how many messages were handled (0 on an idle timeout)."""
        assert self._sub is not None, "start() first"
        try:
            msgs = await self._sub.fetch(self.batch, timeout=timeout)
        except (TimeoutError, NatsTimeout):
            return 0
        if not msgs:
            return 0
        items = await self._in_order([parse(m, self.consumer.client_filter) for m in msgs])
        with _tracer.start_as_current_span(
            f"{self.projection.name} apply",
            kind=trace.SpanKind.CONSUMER,
            context=propagate.extract(msgs[0].headers or {}),
            attributes={"messaging.batch.message_count": len(items)},
        ):
            await self._process(items)
        return len(msgs)

    async def _in_order(self, items: list[Item]) -> list[Item]:
        """Strict stream order, with nothing skipped.

        New deliveries come in stream order, but after a crash or a lost connection JetStream redelivers
        what the dead subscription had fetched only when its ack wait runs out, and meanwhile hands out
        newer messages. Applying those first would move the position past the old ones for good. So when
        the batch does not start at the next event the log holds for this consumer, or holds a redelivery,
        the range up to the batch's newest event is read straight from the stream, in order.

        Once this subscription has handled a delivery, a batch that carries on the consumer's delivery
        counter without a gap, all first deliveries, follows it with nothing in between: no lookup needed."""
        if self._follows(items):
            return items
        last = await asyncio.to_thread(self._position)
        fresh = [i for i in items if i.seq > last and i.wanted]
        skipped = [i for i in items if i.seq > last and not i.wanted]  # acked after what precedes them
        if not fresh and not skipped:
            return items
        seqs = [i.seq for i in fresh]
        contiguous = all(a < b for a, b in itertools.pairwise(seqs)) and all(i.delivered == 1 for i in fresh)
        if contiguous:
            wanted_next = await self._next_seq(last)
            if fresh and seqs[0] == wanted_next:
                return items
            if not fresh and (wanted_next is None or wanted_next > max(i.seq for i in skipped)):
                return items
        log.info(
            "projection %s: batch out of order after seq %d; reading the gap from the log",
            self.projection.name,
            last,
        )
        delivered = {i.seq: i for i in fresh}
        ordered: list[Item] = []
        seq, top = last, max(i.seq for i in fresh + skipped)  # nothing wanted below the newest is left out
        while (raw := await self._next_msg(seq)) is not None and (raw.seq or 0) <= top:
            seq = raw.seq or 0
            ordered.append(delivered.pop(seq) if seq in delivered else parse_raw(raw))
        return [i for i in items if i.seq <= last] + ordered + skipped

    def _follows(self, items: Sequence[Item]) -> bool:
        if self._handled is None:
            return False
        consumer_seq, seq = self._handled
        for item in items:
            if item.delivered != 1 or item.consumer_seq != consumer_seq + 1 or item.seq <= seq:
                return False
            consumer_seq, seq = item.consumer_seq, item.seq
        return True

    def _mark_handled(self, items: Sequence[Item]) -> None:
        delivered = [i.consumer_seq for i in items if i.msg is not None]
        if delivered:
            self._handled = (max(delivered), max(i.seq for i in items))

    def _position(self) -> int:
        with self.engine.connect() as conn:
            return position(conn, self.projection.name)

    async def _next_msg(self, after: int) -> RawStreamMsg | None:
        """The first message above `after` on any of the consumer's subjects (None: nothing yet)."""

        async def first(subject: str) -> RawStreamMsg | None:
            try:
                return await self.js.get_msg(STREAM, seq=after + 1, subject=subject, next=True, direct=True)
            except NotFoundError:
                return None

        found = [m for m in await asyncio.gather(*map(first, self.consumer.filter_subjects)) if m is not None]
        return min(found, key=lambda m: m.seq or 0) if found else None

    async def _next_seq(self, after: int) -> int | None:
        raw = await self._next_msg(after)
        return raw.seq if raw is not None else None

    async def _process(self, items: list[Item]) -> None:
        for item in items:
            if item.problem is not None:
                await self._dead_letter(item, item.problem)
        while items:
            try:
                await asyncio.to_thread(apply_batch, self.engine, self.projection, items)
            except Failed as failure:
                done, stuck, rest = items[: failure.index], items[failure.index], items[failure.index + 1 :]
                if done:
                    await asyncio.to_thread(apply_batch, self.engine, self.projection, done)
                    await self._ack(done)
                self._attempts[stuck.seq] = self._attempts.get(stuck.seq, 0) + 1
                delivered = max(stuck.delivered, self._attempts[stuck.seq])
                if delivered >= self.max_deliveries:
                    log.error(
                        "projection %s: seq %d dead-lettered: %s", self.projection.name, stuck.seq, failure
                    )
                    stuck.problem = str(failure)
                    await self._dead_letter(stuck, f"handler failed {delivered} times: {failure}")
                    items = [stuck, *rest]  # applied as a skip on the next pass
                    continue
                log.warning(
                    "projection %s: seq %d failed (delivery %d): %s",
                    self.projection.name,
                    stuck.seq,
                    delivered,
                    failure,
                )
                self._handled = None
                await asyncio.sleep(self.backoff[min(delivered, len(self.backoff)) - 1])
                for item in sorted([stuck, *rest], key=lambda i: i.seq):
                    if item.msg is not None:
                        await item.msg.nak()
                return
            APPLIED.labels(self.projection.name).inc(len(items))
            POSITION.labels(self.projection.name).set(items[-1].seq)
            if self.on_committed is not None:
                self.on_committed(items)
            await self._ack(items)
            self._mark_handled(items)
            return

    async def _ack(self, items: Sequence[Item]) -> None:
        for item in items:
            if item.msg is not None:
                await item.msg.ack()

    async def _dead_letter(self, item: Item, reason: str) -> None:
        DEAD.labels(self.projection.name).inc()
        await dead_letter(
            self.js,
            self.consumer.durable,
            subject=item.subject,
            seq=item.seq,
            data=item.data,
            headers=item.headers,
            reason=reason,
        )


def check_subscription(projection: Projection, consumer: Consumer) -> None:
    """Refuse to run a projection on a consumer that filters out an event the projection handles."""
    if not consumer.events:
        return  # a hand-written filter (tests, bench): nothing declared to compare
    missing = sorted(e.type_name() for e in set(projection.handles) - set(consumer.events))
    if missing:
        raise ValueError(
            f"projection {projection.name} handles {missing}, which {consumer.durable} never delivers"
        )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
