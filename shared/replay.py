"""Rebuild a projection: drop it, then replay its events from the log through an ordered consumer."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from shared.applier import FORK_FROM, ApplyFailed, Forked, InThread, Raw, forkable
from shared.envelope import STREAM
from shared.items import Item, decode, position
from shared.projection import (
    Failed,
    Projection,
    apply_batch,
    build_late_indexes,
    drop_late_indexes,
    reset,
)
from shared.settings import ServiceSettings
from shared.topology import Consumer

log = logging.getLogger("peerline.replay")
Progress = Callable[[int, int], None]  # (done, total)
PENDING_BYTES = 64 * 1024 * 1024  # the client's own limit under the server's flow control
WHOLE_LOG = "ev.>"
FIRST_BATCH = 64  # messages a replay waits for before it first applies; then twice as many each time


class _FlowControl:
    """Answers the server's flow control only once the callback has taken what came before it.

    nats-py (2.16) counts a callback subscription's messages as delivered when they are *received*, so it
    answers each flow-control request at once and the server never slows down: a replay slower than the
    log then overflows the subscription's pending limit, messages are dropped (`SlowConsumerError`) and the
    ordered consumer starts over, again and again (seen at 5,000,000 events). Counted as taken by the
    callback instead, as nats-py counts them for a subscription read without one, the replay's bounded
    buffer holds the server back."""

    def __init__(self, sub: JetStreamContext.PushSubscription) -> None:
        self.nc, self.inner = sub._conn, sub._sub
        jsi = self.inner._jsi
        assert jsi is not None, "a JetStream subscription"
        self.jsi = jsi
        jsi.get_js_delivered = self.taken  # type: ignore[method-assign]  # consulted as each flow-control request arrives

    def taken(self) -> int:
        return int(self.jsi._fciseq - self.inner._pending_queue.qsize())

    async def answer(self) -> None:
        """Send a flow-control reply held back until now (called by the callback as it takes a message)."""
        reply = self.jsi._fcr
        if reply and self.taken() >= self.jsi._fcd:
            self.jsi._fcr, self.jsi._fcd = None, 0
            await self.nc.publish(reply)


async def has_events(js: JetStreamContext, subjects: Sequence[str]) -> bool:
    """Whether the log holds anything on these subjects (an ordered consumer on nothing would just wait)."""
    for subject in subjects:
        try:
            await js.get_msg(STREAM, seq=1, subject=subject, next=True)
            return True
        except NotFoundError:
            continue
    return False


@contextmanager
def _paced_collector() -> Iterator[None]:
    """Python's cyclic garbage collector paced for a bulk load: what was alive before is frozen out of its
    scans, and a young-generation pass runs every 20,000 new containers instead of every 700. A batch
    makes thousands of short-lived models, dicts and messages; at the default pace the collector took
    ~25 % of a rebuild's CPU (measured on tracking and wellness). Garbage is still collected."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class ReplayIncomplete(RuntimeError):
    pass


Pair = tuple[Projection, Consumer]


class Wanted:
    """Which of a replay's projections want a message, decided from its subject alone: `None` for a
    projection whose messages the server filtered. Where no filter subject names an aggregate id, the
    answer for `ev.<agency>.<aggregate>.<id>.<event>` depends only on agency, aggregate and event, so it
    is worked out once per such triple (a few thousand at regional scale) and looked up after that."""

    def __init__(self, consumers: Sequence[Consumer | None]) -> None:
        self.consumers = consumers
        self.everyone = tuple(True for _ in consumers)
        self.filtered = any(c is not None for c in consumers)
        self.by_kind = all(c is None or all(_ignores_id(p) for p in c.filter_subjects) for c in consumers)
        self.known: dict[tuple[str, str, str], tuple[bool, ...]] = {}

    def __call__(self, subject: str) -> tuple[bool, ...]:
        if not self.filtered:
            return self.everyone
        tokens = subject.split(".")
        if not self.by_kind or len(tokens) != 5:
            return self.decide(subject)
        kind = (tokens[1], tokens[2], tokens[4])
        found = self.known.get(kind)
        if found is None:
            found = self.known[kind] = self.decide(subject)
        return found

    def decide(self, subject: str) -> tuple[bool, ...]:
        return tuple(c is None or c.wants(subject) for c in self.consumers)


def _ignores_id(pattern: str) -> bool:
    """Whether a filter subject matches a 5-token subject whatever its 4th token (the aggregate id)."""
    tokens = pattern.split(".")
    return len(tokens) <= 3 or tokens[3] in ("*", ">")


def _items(msgs: list[Raw], wanted: Wanted) -> list[list[Item]]:
    """Each projection's items for the batch: what it wants, each message decoded once however many
    projections want it, and the batch's last message (skipped if unwanted) so that every projection's
    position reaches the end of the batch."""
    out: list[list[Item]] = [[] for _ in wanted.consumers]
    for seq, subject, data in msgs:
        which = wanted(subject)
        if any(which):
            item = decode(Item(seq, subject, data, None))
            for items, ok in zip(out, which, strict=True):
                if ok:
                    items.append(item)
    if msgs:
        seq, subject, data = msgs[-1]
        for items in out:
            if not items or items[-1].seq != seq:
                items.append(Item(seq, subject, data, None, wanted=False))
    return out


def _apply_raw(engine: Engine, pairs: Sequence[Pair], msgs: list[Raw], wanted: Wanted) -> None:
    for (projection, _), items in zip(pairs, _items(msgs, wanted), strict=True):
        apply_skipping(engine, projection, items)


def apply_skipping(engine: Engine, projection: Projection, items: list[Item]) -> None:
    """Apply a batch; an event its handler fails on is skipped and logged, as the live runner dead-letters
    it after its retries, so that a rebuilt view holds what the live one does and one such event in the
    log does not leave a service that can never be rebuilt. (Decided per projection: items are shared.)"""
    while True:
        try:
            apply_batch(engine, projection, items)
            return
        except Failed as failure:
            stuck = items[failure.index]
            log.error("projection %s: seq %d skipped in the rebuild: %s", projection.name, stuck.seq, failure)
            items[failure.index] = dataclasses.replace(stuck, problem=str(failure))


def subscription(pairs: Sequence[Pair]) -> tuple[str, ConsumerConfig]:
    """The subject and ordered-consumer config a rebuild of `pairs` reads through: the whole log for
    several projections or a read-all consumer (each skipping what it does not want in the client), else
    the one consumer's own filter subjects, filtered by the server (`Consumer.replay_filtered`)."""
    subjects = list(dict.fromkeys(s for _, c in pairs for s in c.filter_subjects))
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    if whole_log([c for _, c in pairs]):
        return WHOLE_LOG, config
    if len(subjects) > 1:
        config.filter_subjects = subjects
    return subjects[0], config


def whole_log(consumers: Sequence[Consumer]) -> bool:
    """Whether a rebuild of these consumers' projections reads the whole log (each skipping the rest)."""
    return len(consumers) > 1 or (consumers[0].read_all and not consumers[0].replay_filtered)


async def rebuild(
    js: JetStreamContext,
    engine: Engine,
    projection: Projection,
    consumer: Consumer,
    *,
    batch: int = 1000,
    progress: Progress | None = None,
    idle_timeout: float = 30.0,
) -> int:
    """Replay every event the consumer's filter selects into an emptied projection. Returns the count."""
    return await rebuild_many(
        js, engine, [(projection, consumer)], batch=batch, progress=progress, idle_timeout=idle_timeout
    )


async def rebuild_many(
    js: JetStreamContext,
    engine: Engine,
    pairs: Sequence[Pair],
    *,
    batch: int = 1000,
    progress: Progress | None = None,
    idle_timeout: float = 30.0,
    pending_bytes: int = PENDING_BYTES,
    fork: bool | None = None,
) -> int:
    """Replay every event the consumers' filters select into emptied projections, in one pass over the
    log (several projections: one subscription on the whole log, each event decoded once). Returns the
    count of messages read.

    Stop the service first: the live runner and a rebuild must not write the same tables at once.
    Indexes the projections build late (`shared.projection.late_indexes`) are built once all is applied.
    Events that cannot be parsed are skipped here (the live consumer already dead-lettered them), and so
    are events a handler fails on (`apply_skipping`).
    Messages arrive through an ordered push consumer into a bounded buffer: when the buffer is full the
    callback waits, so the server's flow control holds back the rest instead of the client dropping it.
    Raises ReplayIncomplete if fewer events arrive than the log held when the replay began.
    `fork`: apply in a forked child process (`shared.applier`) — None: when the log holds at least
    `FORK_FROM` events for it and the database is not in memory.
    """
    for projection, _ in pairs:
        await asyncio.to_thread(reset, engine, projection)
        await asyncio.to_thread(drop_late_indexes, engine, projection)
    done = await _replay(js, engine, pairs, batch, progress, idle_timeout, pending_bytes, fork)
    for projection, _ in pairs:  # not after a failed replay: the service's start-up builds them then
        await asyncio.to_thread(build_late_indexes, engine, projection)
    return done


async def _replay(
    js: JetStreamContext,
    engine: Engine,
    pairs: Sequence[Pair],
    batch: int,
    progress: Progress | None,
    idle_timeout: float,
    pending_bytes: int,
    fork: bool | None,
) -> int:
    names = ", ".join(p.name for p, _ in pairs)
    subjects = list(dict.fromkeys(s for _, c in pairs for s in c.filter_subjects))
    if not await has_events(js, subjects):  # an ordered consumer would just wait
        return 0
    buffer: list[Raw] = []
    full, room = asyncio.Event(), asyncio.Event()
    room.set()
    # "size": how many buffered messages wake the applier (it takes all there are), from FIRST_BATCH up to
    # `batch`, so that applying starts while the rest of the log is still arriving
    state = {"left": -1, "total": 0, "size": min(FIRST_BATCH, batch)}
    flow: _FlowControl | None = None  # set once subscribed: the callback reads it as it runs

    async def take(msg: Msg) -> None:
        if flow is not None:
            await flow.answer()
        while len(buffer) >= batch * 4:
            room.clear()
            await room.wait()
        seq, _, _, pending = position(msg)
        if state["total"] == 0:
            state["total"] = pending + 1
        buffer.append((seq, msg.subject, msg.data))
        state["left"] = pending
        if len(buffer) >= state["size"] or state["left"] == 0:
            full.set()

    first, config = subscription(pairs)
    whole = whole_log([c for _, c in pairs])
    wanted = Wanted([c if whole else None for _, c in pairs])
    sub = await js.subscribe(
        first, stream=STREAM, ordered_consumer=True, config=config, cb=take, pending_bytes_limit=pending_bytes
    )
    flow = _FlowControl(sub)
    done = 0

    def apply(msgs: list[Raw]) -> None:
        _apply_raw(engine, pairs, msgs, wanted)

    applier: InThread | Forked | None = None
    with _paced_collector():
        try:
            while True:
                try:
                    await asyncio.wait_for(full.wait(), timeout=idle_timeout)
                except TimeoutError as exc:
                    silence = f"{names}: {done} of {state['total']} events, then silence"
                    raise ReplayIncomplete(silence) from exc
                full.clear()
                msgs = buffer[:]
                del buffer[:]
                room.set()
                state["size"] = min(state["size"] * 2, batch)
                if applier is None:  # the log's size is known from the first message
                    big = state["total"] >= FORK_FROM if fork is None else fork
                    applier = Forked(engine, apply) if big and forkable(engine) else InThread(apply)
                done += await applier.put(msgs)
                if progress:
                    progress(done, state["total"])
                if state["left"] == 0 and not buffer:
                    break
            if applier is not None:
                done += await applier.finish()
                if progress:
                    progress(done, state["total"])
        except ApplyFailed as exc:
            raise ReplayIncomplete(f"{names}: {done} of {state['total']} events, then {exc}") from exc
        finally:
            if applier is not None:
                applier.close()
            await sub.unsubscribe()
    if done < state["total"]:
        raise ReplayIncomplete(f"{names}: {done} of {state['total']} events replayed")
    return done


async def rebuild_all(
    settings: ServiceSettings, engine: Engine, pairs: list[tuple[Projection, Consumer]]
) -> None:
    """`peerline replay <service>`: rebuild a service's projections in one pass with a progress bar. Runs as
    the read-only `replay` bus identity (PEERLINE_NATS_USER / PEERLINE_NATS_SEED_FILE)."""
    from rich.progress import Progress as Bar

    from shared.service import connect_nats

    if not pairs:
        return
    nc = await connect_nats(settings)
    try:
        with Bar() as bar:
            task = bar.add_task(", ".join(p.name for p, _ in pairs), total=None)

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            count = await rebuild_many(nc.jetstream(), engine, pairs, progress=show)
            bar.update(task, completed=count, total=max(count, 1))
    finally:
        await nc.close()
