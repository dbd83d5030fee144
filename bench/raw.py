"""Raw nats-py baselines: publish rate, pull-consumer rate, ordered-replay rate, round-trip latency."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.events import Outgoing
from bench.timing import Latency, Rate, Stopwatch
from shared.envelope import STREAM
from shared.topology import Consumer

SENT_HEADER = "Bench-Sent-Ns"


async def publish_all(js: JetStreamContext, events: Sequence[Outgoing]) -> Rate:
    """`publish_async` every event (the client bounds how many acks are outstanding), then await all acks."""
    with Stopwatch() as sw:
        acks = [
            await js.publish_async(ev.subject, ev.data, stream=STREAM, headers=ev.header_dict())
            for ev in events
        ]
        results = await asyncio.gather(*acks)
    if any(r.duplicate for r in results):
        raise RuntimeError("a benchmark event was stored as a duplicate")
    return Rate(len(results), sw.seconds)


async def pull_baseline(js: JetStreamContext, consumer: Consumer, n: int, batch: int = 500) -> Rate:
    """Baseline A: a durable pull consumer, `fetch(batch)`, ack each message. No parsing."""
    await js.add_consumer(STREAM, consumer.config())
    try:
        with Stopwatch() as sw:
            sub = await js.pull_subscribe_bind(consumer.durable, stream=STREAM)
            done = 0
            while done < n:
                try:
                    msgs = await sub.fetch(batch, timeout=5.0)
                except (TimeoutError, NatsTimeout) as exc:
                    raise RuntimeError(f"pull baseline stalled at {done}/{n}") from exc
                for msg in msgs:
                    await msg.ack()
                done += len(msgs)
        await sub.unsubscribe()
    finally:
        await js.delete_consumer(STREAM, consumer.durable)
    return Rate(done, sw.seconds)


async def ordered_baseline(
    js: JetStreamContext,
    subject: str,
    n: int,
    *,
    callback: bool,
    stall_s: float = 5.0,
    config: ConsumerConfig | None = None,
) -> Rate:
    """Baseline B: an ordered push consumer replaying the stream, with a message callback (`callback=True`)
    or with a `next_msg` loop as `replay.rebuild` has. nats-py's default pending limits (512k messages,
    128 MiB); the server's flow control bounds what is in flight. A stall ends the run early (count < n),
    timed to the last message."""
    start = last = time.perf_counter()
    done = 0
    all_in = asyncio.Event()

    async def handle(_: Msg) -> None:
        nonlocal done, last
        done += 1
        last = time.perf_counter()
        if done >= n:
            all_in.set()

    config = config or ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    sub = await js.subscribe(
        subject, stream=STREAM, ordered_consumer=True, config=config, cb=handle if callback else None
    )
    try:
        while done < n:
            seen = done
            if callback:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_in.wait(), timeout=stall_s)
            else:
                with contextlib.suppress(TimeoutError, NatsTimeout):
                    await handle(await sub.next_msg(timeout=stall_s))
            if done == seen:
                break
    finally:
        await sub.unsubscribe()
    return Rate(done, last - start)


async def round_trip(js: JetStreamContext, subject: str, events: Sequence[Outgoing], rate: float) -> Latency:
    """Publish `events` at `rate`/s (paced, acks not awaited in line) to a push consumer acking each one;
    each sample is handler-entry time minus the moment just before the publish call."""
    samples: list[float] = []
    all_in = asyncio.Event()

    async def handle(msg: Msg) -> None:
        sent = int((msg.headers or {})[SENT_HEADER])
        samples.append((time.perf_counter_ns() - sent) / 1e6)
        await msg.ack()
        if len(samples) >= len(events):
            all_in.set()

    config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.EXPLICIT)
    sub = await js.subscribe(subject, stream=STREAM, cb=handle, manual_ack=True, config=config)
    try:
        acks = []
        start = time.perf_counter()
        for i, ev in enumerate(events):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = ev.header_dict()
            headers[SENT_HEADER] = str(time.perf_counter_ns())
            acks.append(await js.publish_async(ev.subject, ev.data, stream=STREAM, headers=headers))
        elapsed = time.perf_counter() - start
        await asyncio.gather(*acks)
        try:
            await asyncio.wait_for(all_in.wait(), timeout=5.0)
        except TimeoutError:
            pass  # reported as received < sent
    finally:
        await sub.unsubscribe()
    return Latency(rate, len(events) / elapsed, len(events), len(samples), tuple(samples))
