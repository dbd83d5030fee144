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
from shared.items import Item, parse, skipped
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


Pair = tuple[Projection, Consumer]


def _items(msgs: list[Msg], pairs: Sequence[Pair], shared: bool) -> list[list[Item]]:
    """Each projection's items for the batch; a message is decoded once, however many projections want it.
    `shared`: the messages come from one subscription on the whole log, so each consumer's filter applies
    in the client; else the server filtered for the only consumer."""
    wants = [(c.wants if shared else c.client_filter) for _, c in pairs]
    out: list[list[Item]] = [[] for _ in pairs]
    for m in msgs:
        wanted = [w is None or w(m.subject) for w in wants]
        if not any(wanted):
            item = parse(m, _nobody)
            for items in out:
                items.append(item)
            continue
        item = parse(m)
        for items, ok in zip(out, wanted, strict=True):
            items.append(item if ok else skipped(item))
    return out


def _nobody(_subject: str) -> bool:
    return False


def _apply_raw(engine: Engine, pairs: Sequence[Pair], msgs: list[Msg], shared: bool) -> None:
    for (projection, _), items in zip(pairs, _items(msgs, pairs, shared), strict=True):
        apply_batch(engine, projection, items)


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
) -> int:
    """Replay every event the consumers' filters select into emptied projections, in one pass over the
    log (several projections: one subscription on the whole log, each event decoded once). Returns the
    count of messages read.

    Stop the service first: the live runner and a rebuild must not write the same tables at once.
    Events that cannot be parsed are skipped here (the live consumer already dead-lettered them).
    Messages arrive through an ordered push consumer into a bounded buffer: when the buffer is full the
    callback waits, so the server's flow control holds back the rest instead of the client dropping it.
    Raises ReplayIncomplete if fewer events arrive than the log held when the replay began.
    """
    names = ", ".join(p.name for p, _ in pairs)
    for projection, _ in pairs:
        await asyncio.to_thread(reset, engine, projection)
    subjects = list(dict.fromkeys(s for _, c in pairs for s in c.filter_subjects))
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
    shared = len(pairs) > 1
    if shared or pairs[0][1].read_all:  # the whole log, the rest skipped in the client (Consumer.read_all)
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
                raise ReplayIncomplete(f"{names}: {done} of {state['total']} events, then silence") from exc
            full.clear()
            msgs = buffer[:]
            del buffer[:]
            room.set()
            await asyncio.to_thread(_apply_raw, engine, pairs, msgs, shared)
            done += len(msgs)
            if progress:
                progress(done, state["total"])
            if state["left"] == 0 and not buffer:
                break
    finally:
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
