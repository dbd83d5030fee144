"""Rebuild a projection: drop it, then replay its events from the log through an ordered consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from shared.envelope import STREAM
from shared.items import parse
from shared.projection import Projection, apply_batch, reset
from shared.settings import ServiceSettings
from shared.topology import Consumer

Progress = Callable[[int, int], None]  # (done, total)


async def has_events(js: JetStreamContext, subjects: Sequence[str]) -> bool:
    """Whether the log holds anything on these subjects (an ordered consumer on nothing would just wait)."""
    for subject in subjects:
        try:
            await js.get_msg(STREAM, seq=1, subject=subject, next=True)
            return True
        except NotFoundError:
            continue
    return False


class ReplayIncomplete(RuntimeError):
    pass


def _apply_raw(engine: Engine, projection: Projection, msgs: list[Msg], consumer: Consumer) -> None:
    apply_batch(engine, projection, [parse(m, consumer.client_filter) for m in msgs])


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
    """Replay every event the consumer's filter selects into an emptied projection. Returns the count.

    Stop the service first: the live runner and a rebuild must not write the same tables at once.
    Events that cannot be parsed are skipped here (the live consumer already dead-lettered them).
    Messages arrive through an ordered push consumer into a bounded buffer: when the buffer is full the
    callback waits, so the server's flow control holds back the rest instead of the client dropping it.
    Raises ReplayIncomplete if fewer events arrive than the log held when the replay began.
    """
    await asyncio.to_thread(reset, engine, projection)
    subjects = list(consumer.filter_subjects)
    if not await has_events(js, subjects):  # an ordered consumer would just wait
        return 0
    buffer: list[Msg] = []
    full, room = asyncio.Event(), asyncio.Event()
    room.set()
    state = {"left": -1, "total": 0}

    async def take(msg: Msg) -> None:
        while len(buffer) >= batch * 4:
            room.clear()
            await room.wait()
        if state["total"] == 0:
            state["total"] = (msg.metadata.num_pending or 0) + 1
        buffer.append(msg)
        state["left"] = msg.metadata.num_pending or 0
        if len(buffer) >= batch or state["left"] == 0:
            full.set()

    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    first = subjects[0]
    if consumer.read_all:  # the whole log, the rest skipped in the client (see Consumer.read_all)
        first = "ev.>"
    elif len(subjects) > 1:
        config.filter_subjects = subjects
    sub = await js.subscribe(first, stream=STREAM, ordered_consumer=True, config=config, cb=take)
    done = 0
    try:
        while True:
            try:
                await asyncio.wait_for(full.wait(), timeout=idle_timeout)
            except TimeoutError as exc:
                raise ReplayIncomplete(
                    f"{projection.name}: {done} of {state['total']} events, then silence"
                ) from exc
            full.clear()
            msgs = buffer[:]
            del buffer[:]
            room.set()
            await asyncio.to_thread(_apply_raw, engine, projection, msgs, consumer)
            done += len(msgs)
            if progress:
                progress(done, state["total"])
            if state["left"] == 0 and not buffer:
                break
    finally:
        await sub.unsubscribe()
    if done < state["total"]:
        raise ReplayIncomplete(f"{projection.name}: {done} of {state['total']} events replayed")
    return done


async def rebuild_all(
    settings: ServiceSettings, engine: Engine, pairs: list[tuple[Projection, Consumer]]
) -> None:
    """`peerline replay <service>`: rebuild each of a service's projections with a progress bar. Runs as
    the read-only `replay` bus identity (PEERLINE_NATS_USER / PEERLINE_NATS_SEED_FILE)."""
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

    from shared.service import connect_nats

    nc = await connect_nats(settings)
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
