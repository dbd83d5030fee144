"""Each service's live projections on a log that already holds a mixed history: its `ProjectionRunner`s,
each on a fresh durable consumer with the service's own filter, timed until caught up; beside the raw
durable pull rate (fetch, ack each, no parsing) of a consumer with the same filter over the same log."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from nats.js import JetStreamContext

from bench.raw import pull_baseline
from bench.timing import Rate
from shared.db import make_engine
from shared.envelope import STREAM
from shared.projection import Projection
from shared.runner import ProjectionRunner
from shared.topology import Consumer


@dataclass(frozen=True)
class Live:
    service: str
    runner: Rate  # messages its runners handled (each runner reads its own consumer) per second
    raw: Rate  # the same consumers' messages pulled and acked, per second


async def pending(js: JetStreamContext, consumer: Consumer) -> int:
    await js.add_consumer(STREAM, consumer.config())
    try:
        return (await js.consumer_info(STREAM, consumer.durable)).num_pending or 0
    finally:
        await js.delete_consumer(STREAM, consumer.durable)


async def measure(
    js: JetStreamContext,
    raw_js: JetStreamContext,
    tmp: Path,
    service: str,
    pairs: list[tuple[Projection, Consumer]],
) -> Live:
    """`js`: Peerline's client (`shared.busclient.connect`); `raw_js`: nats-py as shipped (the raw pull)."""
    engine = make_engine(f"sqlite:///{tmp}/live-{service}.db")
    raw_count, raw_s, live_count, live_s = 0, 0.0, 0, 0.0
    for projection, consumer in pairs:
        base = replace(consumer, durable=f"bench-raw-{consumer.durable}")
        n = await pending(raw_js, base)
        rate = await pull_baseline(raw_js, base, n)
        raw_count, raw_s = raw_count + rate.count, raw_s + rate.seconds
        mine = replace(consumer, durable=f"bench-live-{consumer.durable}")
        await js.add_consumer(STREAM, mine.config())
        try:
            runner = ProjectionRunner(js, engine, projection, mine)
            t0 = time.perf_counter()
            await runner.catch_up()
            live_s += time.perf_counter() - t0
            live_count += n
            await runner.stop()
        finally:
            await js.delete_consumer(STREAM, mine.durable)
    engine.dispose()
    return Live(service, Rate(live_count, live_s), Rate(raw_count, raw_s))
