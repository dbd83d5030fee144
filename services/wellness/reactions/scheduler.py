"""Firing wellness's durable timers (shared.timers) several at a time.

shared.timers.TimerLoop fires one timer after another; wellness's timers are independent (each one's
work is guarded by its own aggregate's version), so a burst — a thousand follow-ups due at 09:00, a
mass-casualty incident — is fired with bounded concurrency instead. Semantics are TimerLoop's: a timer
is marked attempted before it fires, retried after `retry_after` if its handler fails, deleted if the
handler says nothing is left to do, and otherwise left for the view to cancel when it sees the result.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, bindparam

from shared.clock import Clock
from shared.timers import Attempts, Fire, Timer, due

log = logging.getLogger("peerline.wellness.timers")


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        table: Table,
        clock: Clock,
        fire: Fire,
        *,
        retry_after: timedelta = timedelta(seconds=30),
        batch: int = 200,
        concurrency: int = 16,
        attempts: Attempts | None = None,
    ) -> None:
        self.engine, self.table, self.clock, self.fire = engine, table, clock, fire
        self.retry_after, self.batch = retry_after, batch
        self.attempts = attempts or Attempts()
        self.gate = asyncio.Semaphore(concurrency)
        # built once (see services.wellness.tables.statements)
        t_ids = table.c.timer_id.in_(bindparam("t_ids", expanding=True))
        self._attempted = table.update().where(t_ids).values(attempted_at=bindparam("t_at"))
        self._settled = table.delete().where(t_ids)

    async def tick(self) -> int:
        """Fire every timer due now (up to `batch`); returns how many were fired without error."""
        timers = await asyncio.to_thread(self._claim, self.clock.now())
        if not timers:
            return 0
        results = await asyncio.gather(*(self._one(t) for t in timers))
        settled = [t.timer_id for t, left in zip(timers, results, strict=True) if left is False]
        if settled:
            await asyncio.to_thread(self._delete, settled)
        return sum(1 for left in results if left is not None)

    async def _one(self, timer: Timer) -> bool | None:
        """True: fired, left for the view to settle; False: nothing left to do, or given up after too many
        failures (deleted either way); None: failed, retried after `retry_after`."""
        async with self.gate:
            try:
                left = await self.fire(timer)
            except Exception as exc:
                log.exception("timer %s (%s) failed; it will be retried", timer.kind, timer.timer_id)
                return False if await self.attempts.failed(timer, exc) else None
            self.attempts.succeeded(timer)
            return left

    def warm_up(self) -> None:
        """Run the claim's statements once (claiming nothing) so the first due timer does not compile them."""
        due(self.engine, self.table, self.clock.now(), self.retry_after, self.batch)
        with self.engine.connect() as conn, conn.begin() as tx:
            conn.execute(self._attempted, {"t_ids": [""], "t_at": self.clock.now()})
            tx.rollback()

    def _claim(self, now: datetime) -> list[Timer]:
        """The timers due now, marked attempted before any is fired (one hop off the event loop)."""
        timers = due(self.engine, self.table, now, self.retry_after, self.batch)
        if timers:
            with self.engine.begin() as conn:
                conn.execute(self._attempted, {"t_ids": [t.timer_id for t in timers], "t_at": now})
        return timers

    def _delete(self, ids: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._settled, {"t_ids": ids})
