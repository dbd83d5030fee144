"""The dispatcher: sends due deliveries, retries with backoff, and settles pages.

Each tick claims the due deliveries (pending → sending), sends them at once over their channels, and
records each result: sent; pending again at the next backoff step; or dead after the last retry (the
message is dead-lettered with the reason, and the contact point stops counting as a working channel).
A page whose deliveries are all dead is missed. The outcomes go onto the log afterwards (outbox.py).

A delivery is claimed before it is sent, and a claim left by a crashed process is sent again when the
process starts: a message can repeat after a crash (with the same id, for receivers to drop) but is
never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Engine, select

from services.notify import domain
from services.notify import queries as people
from services.notify.channels import Message, Result, Sender
from services.notify.sealing import Sealer, Unreadable
from services.notify.tables import contacts, deliveries, notices
from shared.clock import Clock

log = logging.getLogger("peerline.notify")
SENT_TOTAL = Counter("peerline_notify_deliveries_total", "deliveries settled", ["channel", "status"])
DeadLetter = Callable[[str, Message, str], Awaitable[None]]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        sealer: Sealer,
        senders: Mapping[str, Sender],
        clock: Clock,
        dead_letter: DeadLetter,
        *,
        backoff: Sequence[float],
        link_base: str,
        batch: int = 100,
    ) -> None:
        self.engine, self.sealer, self.senders, self.clock = engine, sealer, senders, clock
        self.dead_letter, self.backoff, self.link_base, self.batch = dead_letter, backoff, link_base, batch
        self.wake = asyncio.Event()

    def recover(self) -> int:
        """Claims left by a crashed process are pending again (they may have gone out: sent again)."""
        with self.engine.begin() as conn:
            stmt = deliveries.update().where(deliveries.c.status == "sending").values(status="pending")
            return conn.execute(stmt).rowcount

    async def tick(self) -> int:
        """Send every due delivery (up to a batch); returns how many were sent or settled."""
        claimed = await asyncio.to_thread(self._claim, self.clock.now())
        if claimed:
            results = await asyncio.gather(*(self._send(row) for row in claimed))
            outcomes = list(zip(claimed, results, strict=True))
            dead = await asyncio.to_thread(self._record, outcomes, self.clock.now())
            for row, result in dead:
                await self.dead_letter(row.channel, self.message(row), f"{row.channel}: {result.reason}")
        return len(claimed)

    def _claim(self, now: datetime) -> list[Any]:
        with self.engine.begin() as conn:
            query = (
                select(deliveries, notices.c.kind, notices.c.agency, contacts.c.sealed)
                .join(notices, notices.c.notice_id == deliveries.c.notice_id)
                .join(contacts, contacts.c.contact_id == deliveries.c.contact_id, isouter=True)
                .where(deliveries.c.status == "pending", deliveries.c.due_at <= now)
                .order_by(deliveries.c.due_at)
                .limit(self.batch)
            )
            rows = list(conn.execute(query))
            claimed = []
            for row in rows:
                mine = deliveries.update().where(
                    deliveries.c.delivery_id == row.delivery_id, deliveries.c.status == "pending"
                )
                if conn.execute(mine.values(status="sending")).rowcount:
                    claimed.append(row)
            return claimed

    def message(self, row: Any) -> Message:
        return Message(
            id=row.delivery_id,
            kind=row.kind,
            agency=row.agency,
            title=domain.TITLE,
            text=domain.TEXT[row.kind],
            link=self.link_base.rstrip("/") + row.link,
            urgent=row.kind == "page",
            time=_utc(row.created_at),
        )

    async def _send(self, row: Any) -> Result:
        if row.sealed is None:  # the person removed the contact point after the message was queued
            return Result(ok=False, reason="gone", retry=False)
        sender = self.senders.get(row.channel)
        if sender is None:
            return Result(ok=False, reason="unreachable", retry=False)
        try:
            address = self.sealer.open(row.contact_id, row.sealed)
        except Unreadable:
            log.error("contact %s does not open under the configured key", row.contact_id)
            return Result(ok=False, reason="gone", retry=False)
        try:
            return await sender.send(address, self.message(row))
        except Exception as exc:  # no traceback: a sender's exception may quote the address it was given
            log.error("delivery %s over %s failed: %s", row.delivery_id, row.channel, type(exc).__name__)
            return Result(ok=False, reason="unreachable")

    def _record(self, results: list[tuple[Any, Result]], now: datetime) -> list[tuple[Any, Result]]:
        """Store each result; returns the deliveries that are dead now."""
        dead = []
        with self.engine.begin() as conn:
            for row, result in results:
                attempts = row.attempts + 1
                update = deliveries.update().where(deliveries.c.delivery_id == row.delivery_id)
                retry = domain.retry_at(attempts, now, self.backoff) if result.retry else None
                if result.ok:
                    conn.execute(update.values(status="sent", attempts=attempts, reason=None))
                elif retry is not None:
                    conn.execute(update.values(status="pending", attempts=attempts, due_at=retry))
                else:
                    conn.execute(update.values(status="dead", attempts=attempts, reason=result.reason))
                    dead.append((row, result))
                    owner = people.set_working(conn, row.contact_id, False)
                    if owner is not None:
                        people.refresh_reach(conn, owner.agency, owner.ref, self.senders)
                if result.ok or retry is None:
                    SENT_TOTAL.labels(row.channel, "sent" if result.ok else "dead").inc()
                    if row.kind == "page":
                        settle_page(conn, row.notice_id)
        return dead


def settle_page(conn: Any, notice_id: str) -> None:
    statuses = list(
        conn.execute(select(deliveries.c.status).where(deliveries.c.notice_id == notice_id)).scalars()
    )
    outcome = domain.page_outcome(statuses)
    if outcome != "pending":
        reason = "all_channels_failed" if outcome == "missed" else None
        stmt = notices.update().where(notices.c.notice_id == notice_id, notices.c.outcome == "pending")
        conn.execute(stmt.values(outcome=outcome, missed_reason=reason))
