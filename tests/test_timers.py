"""Durable timers: due once, retried after a failure, gone once settled; time comes from a fake clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from shared import decision
from shared.clock import FakeClock
from shared.db import make_engine
from shared.timers import Timer, TimerLoop, cancel, schedule, timers_table

pytestmark = pytest.mark.unit


def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    metadata = MetaData()
    table = timers_table(metadata)
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    metadata.create_all(engine)
    return engine, table


async def test_timer_fires_when_due_and_not_before(tmp_path: Path) -> None:
    engine, table = setup(tmp_path)
    clock = FakeClock()
    fired: list[str] = []

    async def fire(t: Timer) -> bool:
        fired.append(t.timer_id)
        return False

    with engine.begin() as conn:
        schedule(
            conn, table, Timer("t1", "expire", "cfd", "c-1", clock.now() + timedelta(minutes=15), {"n": 1})
        )
        schedule(conn, table, Timer("t2", "expire", "cfd", "c-2", clock.now() + timedelta(minutes=30), {}))
    loop = TimerLoop(engine, table, clock, fire)
    assert await loop.tick() == 0
    clock.advance(minutes=15)
    assert await loop.tick() == 1 and fired == ["t1"]
    assert await loop.tick() == 0  # settled (fire returned False) → deleted
    clock.advance(minutes=15)
    await loop.tick()
    assert fired == ["t1", "t2"]


async def test_failed_fire_is_retried_after_the_retry_interval(tmp_path: Path) -> None:
    engine, table = setup(tmp_path)
    clock = FakeClock()
    calls = 0

    async def fire(t: Timer) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("nats down")
        return True

    with engine.begin() as conn:
        schedule(conn, table, Timer("t1", "k", "cfd", "c-1", clock.now(), {}))
    loop = TimerLoop(engine, table, clock, fire, retry_after=timedelta(seconds=30))
    assert await loop.tick() == 0
    assert await loop.tick() == 0  # not yet retried
    clock.advance(seconds=31)
    assert await loop.tick() == 1
    # fired and appended: it stays until the projection sees the result and cancels it,
    # and is not fired again meanwhile
    assert await loop.tick() == 0
    with engine.begin() as conn:
        cancel(conn, table, "t1")
    clock.advance(minutes=5)
    assert await loop.tick() == 0 and calls == 2


async def test_rescheduling_moves_the_timer(tmp_path: Path) -> None:
    engine, table = setup(tmp_path)
    clock = FakeClock()
    fired: list[str] = []

    async def fire(t: Timer) -> bool:
        fired.append(t.timer_id)
        return False

    with engine.begin() as conn:
        schedule(conn, table, Timer("t1", "k", "cfd", "c-1", clock.now() + timedelta(minutes=1), {}))
        schedule(conn, table, Timer("t1", "k", "cfd", "c-1", clock.now() + timedelta(minutes=10), {}))
    clock.advance(minutes=2)
    loop = TimerLoop(engine, table, clock, fire)
    assert await loop.tick() == 0
    clock.advance(minutes=10)
    assert await loop.tick() == 1


async def test_a_timer_scheduled_again_for_the_same_instant_fires_again_as_another_firing(
    tmp_path: Path,
) -> None:
    engine, table = setup(tmp_path)
    clock = FakeClock()
    fired: list[str] = []
    failures = 1

    async def fire(t: Timer) -> bool:
        nonlocal failures
        fired.append(decision.fired(t))
        if failures:
            failures -= 1
            raise RuntimeError("nats down")
        return True

    loop = TimerLoop(engine, table, clock, fire, retry_after=timedelta(seconds=30))
    for cause in ("e-1", "e-2"):  # e.g. two peers gone on a break, each scheduling "hand case c-1 on now"
        with engine.begin() as conn:
            schedule(conn, table, Timer("handon:c-1", "handon", "cfd", "c-1", clock.now(), {}, cause=cause))
        while await loop.tick() == 0:  # the first firing fails once and is tried again
            clock.advance(seconds=31)
        with engine.begin() as conn:  # the projection sees the result
            cancel(conn, table, "handon:c-1")
    assert len(fired) == 3 and fired[0] == fired[1] != fired[2]  # a retry decides once; each scheduling fires
