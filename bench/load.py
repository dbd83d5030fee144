"""Aggregate load: `EventStore.load` of one 10,000-event aggregate (batched direct gets, parsed into
events) beside the raw fetch of the same messages in the same run: one direct get per message (how
the log was read before) and an ordered consumer filtered to the aggregate. Each path is timed as the
median of a few runs; the aggregate's events are interleaved with as many of other aggregates."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared.contracts.intake import RequestCancelled
from shared.envelope import STREAM, Envelope, aggregate_filter
from shared.eventstore import EventStore, headers_for
from tests.support.bus import connect, provisioned, start_server

AGENCY = "bench-load"
CASE = "c-load"
RUNS = 3


@dataclass(frozen=True)
class Loaded:
    events: int
    load_ms: float
    batched_raw_ms: float
    one_by_one_ms: float
    ordered_ms: float
    counts: dict[str, int]


async def _publish(js: JetStreamContext, events: int) -> None:
    """`events` of the measured case, each followed by one of another case."""
    acks = []
    for i in range(events):
        for subject in (CASE, f"c-other-{i % 100}"):
            env = Envelope.wrap(RequestCancelled(), agency=AGENCY, subject=subject, source="peerline/bench")
            acks.append(await js.publish_async(env.nats_subject, env.to_bytes(), headers=headers_for(env)))
    await asyncio.gather(*acks)


async def _one_by_one(js: JetStreamContext, filt: str) -> int:
    """Each next message of the aggregate by its own direct get: one round trip per event."""
    seq, n = 1, 0
    while True:
        try:
            msg = await js.get_msg(STREAM, seq=seq, subject=filt, next=True, direct=True)
        except NotFoundError:
            return n
        assert msg.seq is not None
        n, seq = n + 1, msg.seq + 1


async def _ordered(js: JetStreamContext, filt: str, events: int) -> int:
    """An ordered push consumer filtered to the aggregate, until its last message arrived."""
    got = 0
    done = asyncio.Event()

    async def handle(_: Msg) -> None:
        nonlocal got
        got += 1
        if got >= events:
            done.set()

    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    sub = await js.subscribe(filt, stream=STREAM, ordered_consumer=True, config=config, cb=handle)
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await sub.unsubscribe()
    return got


async def _timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    """The median wall time (ms) of RUNS runs, and how many messages the last one read."""
    times, count = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        count = await run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), count


async def measure(tmp: Path, events: int = 10_000) -> Loaded:
    server = start_server(tmp / "nats")
    try:
        await provisioned(server.url)
        nc = await connect(server.url)
        try:
            js = nc.jetstream()
            await _publish(js, events)
            store, filt = EventStore(js), aggregate_filter(AGENCY, "case", CASE)

            async def load() -> int:
                return len((await store.load(AGENCY, "case", CASE)).events)

            async def batched() -> int:
                return len(await store.fetch(filt))

            load_ms, loaded = await _timed(load)
            raw_ms, fetched = await _timed(batched)
            one_ms, stepped = await _timed(lambda: _one_by_one(js, filt))
            ordered_ms, ordered = await _timed(lambda: _ordered(js, filt, events))
        finally:
            await nc.close()
    finally:
        server.stop()
    counts = {"load": loaded, "batched": fetched, "one_by_one": stepped, "ordered": ordered}
    return Loaded(events, load_ms, raw_ms, one_ms, ordered_ms, counts)
