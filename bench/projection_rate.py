"""Peerline's own consumers: `ProjectionRunner` (live) and `replay.rebuild`, timed on the same read model."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy import Engine

from bench.readmodel import CaseBoard
from bench.timing import Rate, Stopwatch
from shared.envelope import STREAM
from shared.replay import rebuild
from shared.runner import ProjectionRunner
from shared.topology import Consumer


async def live(
    js: JetStreamContext, engine: Engine, board: CaseBoard, consumer: Consumer, n: int, batch: int = 500
) -> Rate:
    """Drive a ProjectionRunner step by step until it has handled `n` events."""
    await js.add_consumer(STREAM, consumer.config())
    runner = ProjectionRunner(js, engine, board, consumer, batch=batch)
    with Stopwatch() as sw:
        await runner.start()
        done = 0
        while done < n:
            handled = await runner.step(timeout=5.0)
            if handled == 0:
                raise RuntimeError(f"projection runner stalled at {done}/{n}")
            done += handled
    return Rate(done, sw.seconds)


@dataclass(frozen=True)
class Replayed:
    """A rebuild's rate over the events it applied, and whether it finished by itself."""

    rate: Rate
    finished: bool
    problem: str = ""


async def replay(
    js: JetStreamContext,
    engine: Engine,
    board: CaseBoard,
    consumer: Consumer,
    batch: int = 1000,
    stall_s: float = 5.0,
) -> Replayed:
    """Rebuild the projection in place (drop, then replay the whole log through an ordered consumer).

    `rebuild` reports progress after each committed batch. If none comes for `stall_s` (it is waiting for
    messages that will never arrive, e.g. dropped client-side), it is cancelled; the rate is then taken
    up to its last committed batch."""
    start = time.perf_counter()
    marks: list[tuple[float, int]] = [(start, 0)]

    def mark(done: int, _total: int) -> None:
        marks.append((time.perf_counter(), done))

    task = asyncio.create_task(rebuild(js, engine, board, consumer, batch=batch, progress=mark))
    while not task.done():
        seen = len(marks)
        await asyncio.wait({task}, timeout=stall_s)
        if not task.done() and len(marks) == seen:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            at, done = marks[-1]
            problem = f"no progress for {stall_s:g}s after {done:,} events"
            return Replayed(Rate(done, at - start), False, problem)
    exc = task.exception()
    if exc is not None:
        at, done = marks[-1]
        return Replayed(Rate(done, at - start), False, f"{type(exc).__name__}: {exc}")
    return Replayed(Rate(task.result(), marks[-1][0] - start), True)


async def totals(engine: Engine, board: CaseBoard) -> tuple[int, int]:
    def read() -> tuple[int, int]:
        with engine.connect() as conn:
            return board.totals(conn)

    return await asyncio.to_thread(read)
