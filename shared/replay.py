"""Rebuild a projection: drop it, then replay its events from the log through an ordered consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from shared.envelope import STREAM
from shared.projection import Item, Projection, apply_batch, parse, reset
from shared.topology import Consumer

Progress = Callable[[int, int], None]  # (done, total)


async def _any(js: JetStreamContext, subjects: list[str]) -> bool:
    for subject in subjects:
        try:
            await js.get_msg(STREAM, seq=1, subject=subject, next=True)
            return True
        except NotFoundError:
            continue
    return False


async def rebuild(
    js: JetStreamContext,
    engine: Engine,
    projection: Projection,
    consumer: Consumer,
    *,
    batch: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Replay every event the consumer's filter selects into an emptied projection. Returns the count.

    Stop the service first: the live runner and a rebuild must not write the same tables at once.
    Events that cannot be parsed are skipped here (the live consumer already dead-lettered them).
    """
    await asyncio.to_thread(reset, engine, projection)
    subjects = list(consumer.filter_subjects)
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    if len(subjects) > 1:
        config.filter_subjects = subjects
    sub = await js.subscribe(
        subjects[0], stream=STREAM, ordered_consumer=True, config=config, pending_msgs_limit=batch * 20
    )
    try:
        if not await _any(js, subjects):  # an ordered consumer would just wait
            return 0
        done, total = 0, 0
        pending: list[Item] = []
        while True:
            msg = await sub.next_msg(timeout=30)
            pending.append(parse(msg))
            done += 1
            left = msg.metadata.num_pending or 0
            total = done + left
            if len(pending) >= batch or left == 0:
                await asyncio.to_thread(apply_batch, engine, projection, pending)
                pending = []
                if progress:
                    progress(done, total)
            if left == 0:
                return done
    finally:
        await sub.unsubscribe()


async def rebuild_all(nats_url: str, engine: Engine, pairs: list[tuple[Projection, Consumer]]) -> None:
    """`peerline replay <service>`: rebuild each of a service's projections with a progress bar."""
    import nats
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

    nc = await nats.connect(nats_url)
    try:
        with Bar() as bar:
            for projection, consumer in pairs:
                task = bar.add_task(projection.name, total=None)

                def show(done: int, total: int, task: TaskID = task) -> None:
                    bar.update(task, completed=done, total=total)

                count = await rebuild(nc.jetstream(), engine, projection, consumer, progress=show)
                bar.update(task, completed=count, total=max(count, 1))
    finally:
        await nc.close()
