"""Durable timers driven by a projection: they survive restarts and fire exactly once.

A projection schedules a timer in the same transaction as its view (`schedule`), e.g. on
`peer_assigned` → "expire this assignment at T". `TimerLoop` polls for due timers and calls the
service's `fire` handler, which decides on the loaded aggregate and appends with the aggregate's
expected version and a deterministic event id; so a timer fired twice (a crash between firing and the
projection seeing the result) produces its event once. The projection cancels the timer when it sees
the event that settles it (`cancel`); `fire` returning False (nothing left to do) deletes it directly.
A timer whose firing keeps failing is given up after a bounded number of attempts (`Attempts`): it goes
to PEERLINE_DLQ with the reason and is deleted, so it is not retried for ever.

Each scheduling is one firing, named by `firing(timer)`: the timer id, its due instant and the id of the
event that scheduled it (`cause`, recorded with the timer). Fired twice, a scheduling decides once; the
same timer scheduled again at the same instant by another event is another firing, and fires too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    select,
)

from shared.clock import Clock
from shared.dlq import dead_letter
from shared.items import describe
from shared.projection import replace

log = logging.getLogger("peerline.timers")


def timers_table(metadata: MetaData) -> Table:
    """Add the timers table to a projection's metadata (so rebuilds recreate pending timers)."""
    return Table(
        "timers",
        metadata,
        Column("timer_id", String(160), primary_key=True),
        Column("kind", String(48), nullable=False),
        Column("agency", String(64), nullable=False),
        Column("aggregate_id", String(96), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False, index=True),
        Column("data", Text, nullable=False, default="{}"),
        Column("cause", String(96), nullable=False, default=""),  # the event that scheduled it
        Column("attempted_at", DateTime(timezone=True)),
    )


@dataclass(frozen=True)
class Timer:
    timer_id: str
    kind: str
    agency: str
    aggregate_id: str
    due_at: datetime
    data: dict[str, Any]
    cause: str = ""  # the id of the event that scheduled it ("": one firing per timer id and instant)


def firing(timer: Timer) -> str:
    """This scheduling's firing: the same for every attempt at it, different for every other scheduling."""
    at = f"{timer.timer_id}@{_utc(timer.due_at).isoformat()}"
    return f"{at}/{timer.cause}" if timer.cause else at


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def schedule(conn: Connection, table: Table, timer: Timer) -> None:
    """Create or move a timer (idempotent by timer_id); in a deferring projection's batch, at its commit."""
    row = {
        "timer_id": timer.timer_id,
        "kind": timer.kind,
        "agency": timer.agency,
        "aggregate_id": timer.aggregate_id,
        "due_at": _utc(timer.due_at),
        "data": json.dumps(timer.data),
        "cause": timer.cause,
        "attempted_at": None,
    }
    replace(conn, table, timer.timer_id, row)


def cancel(conn: Connection, table: Table, timer_id: str) -> None:
    replace(conn, table, timer_id, None)


def due(engine: Engine, table: Table, now: datetime, retry_after: timedelta, limit: int = 200) -> list[Timer]:
    """Timers due by `now` that were not attempted within `retry_after`."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(table)
            .where(table.c.due_at <= now)
            .where((table.c.attempted_at.is_(None)) | (table.c.attempted_at <= now - retry_after))
            .order_by(table.c.due_at)
            .limit(limit)
        ).mappings()
        return [
            Timer(
                r["timer_id"],
                r["kind"],
                r["agency"],
                r["aggregate_id"],
                _utc(r["due_at"]),
                json.loads(r["data"]),
                r["cause"],
            )
            for r in rows
        ]


Fire = Callable[[Timer], Awaitable[bool]]
GiveUp = Callable[[Timer, str], Awaitable[None]]


def dead_letters(js: Callable[[], JetStreamContext], durable: str) -> GiveUp:
    """Give a timer up to PEERLINE_DLQ as a dead letter of the projection that scheduled it
    (`dlq.<durable>`, original subject `timer.<agency>.<kind>`): the timer as JSON, with the reason."""

    async def give_up(timer: Timer, reason: str) -> None:
        body = {
            "timer_id": timer.timer_id,
            "kind": timer.kind,
            "agency": timer.agency,
            "aggregate_id": timer.aggregate_id,
            "due_at": timer.due_at.isoformat(),
            "data": timer.data,
        }
        subject = f"timer.{timer.agency}.{timer.kind}"
        data = json.dumps(body).encode()
        await dead_letter(js(), durable, subject=subject, seq=None, data=data, headers=None, reason=reason)

    return give_up


class Attempts:
    """Failed firings per timer (in this process); at `limit`, the timer is given up."""

    def __init__(self, limit: int = 5, give_up: GiveUp | None = None) -> None:
        self.limit, self.give_up = limit, give_up
        self._failed: dict[str, int] = {}

    def succeeded(self, timer: Timer) -> None:
        self._failed.pop(timer.timer_id, None)

    async def failed(self, timer: Timer, exc: Exception) -> bool:
        """Count a failure; True if the timer was given up now (delete it)."""
        n = self._failed[timer.timer_id] = self._failed.get(timer.timer_id, 0) + 1
        if n < self.limit or self.give_up is None:
            return False
        try:
            await self.give_up(timer, f"failed {n} times: {describe(exc)}")
        except Exception:  # the dead letter could not be written: keep the timer, try again later
            log.exception("timer %s (%s) could not be dead-lettered", timer.kind, timer.timer_id)
            return False
        log.error("timer %s (%s) given up after %d failures", timer.kind, timer.timer_id, n)
        del self._failed[timer.timer_id]
        return True


class TimerLoop:
    """Polls for due timers and fires them. `fire` returns True if it appended, False if nothing was left."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        clock: Clock,
        fire: Fire,
        *,
        poll_s: float = 0.25,
        retry_after: timedelta = timedelta(seconds=30),
        attempts: Attempts | None = None,
    ) -> None:
        self.engine, self.table, self.clock, self.fire = engine, table, clock, fire
        self.poll_s, self.retry_after = poll_s, retry_after
        self.attempts = attempts or Attempts()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("timer loop: tick failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass

    async def tick(self) -> int:
        """Fire every timer due now; returns how many were fired."""
        now = self.clock.now()
        timers = await asyncio.to_thread(due, self.engine, self.table, now, self.retry_after)
        fired = 0
        for timer in timers:
            await asyncio.to_thread(self._mark, timer.timer_id, now)
            try:
                appended = await self.fire(timer)
            except Exception as exc:
                log.exception("timer %s (%s) failed; it will be retried", timer.kind, timer.timer_id)
                if await self.attempts.failed(timer, exc):
                    await asyncio.to_thread(self._delete, timer.timer_id)
                continue
            self.attempts.succeeded(timer)
            fired += 1
            if not appended:
                await asyncio.to_thread(self._delete, timer.timer_id)
        return fired

    def _mark(self, timer_id: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self.table.update().where(self.table.c.timer_id == timer_id).values(attempted_at=now)
            )

    def _delete(self, timer_id: str) -> None:
        with self.engine.begin() as conn:
            cancel(conn, self.table, timer_id)
