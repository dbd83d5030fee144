"""Outcomes onto the log: each settled delivery, each missed page and each change of a peer's
reachability is published once, with an id derived from what it reports (so a publish repeated after a
crash is dropped by the log's de-duplication, and escalation's reaction is idempotent anyway).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Engine, select

from services.notify.tables import deliveries, notices, reach
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.notify import (
    NotificationDelivered,
    NotificationUndeliverable,
    PageMissed,
    PeerReachabilityChanged,
)
from shared.decision import Aggregate, event_ids
from shared.envelope import Envelope
from shared.eventstore import EventStore

SOURCE = "peerline/notify"
PAGES_MISSED = Counter(
    "peerline_notify_pages_missed_total", "pages that reached no one (page_missed published)"
)


def _wrap(event: Event, agency: str, subject: str, command_id: str, now: datetime) -> Envelope:
    """The outcome as an event whose id follows from what it reports: reported twice, stored once."""
    (event_id,) = event_ids(Aggregate(agency, event.aggregate, subject), 1, command_id)
    return Envelope.wrap(event, agency=agency, subject=subject, source=SOURCE, time=now, id=event_id)


class Outbox:
    def __init__(self, engine: Engine, store: EventStore, clock: Clock, batch: int = 200) -> None:
        self.engine, self.store, self.clock, self.batch = engine, store, clock, batch

    async def flush(self) -> int:
        """Publish what is not on the log yet; returns how many events were published."""
        pending = await asyncio.to_thread(self._pending, self.clock.now())
        for envelope, mark in pending:
            await self.store.append([envelope], expected=None)
            await asyncio.to_thread(self._mark, mark)
            if mark[0] == "notice":
                PAGES_MISSED.inc()
        return len(pending)

    def _pending(self, now: datetime) -> list[tuple[Envelope, tuple[Any, ...]]]:
        out: list[tuple[Envelope, tuple[Any, ...]]] = []
        with self.engine.connect() as conn:
            settled = (
                select(deliveries, notices.c.kind, notices.c.agency, notices.c.source_event_id)
                .join(notices, notices.c.notice_id == deliveries.c.notice_id)
                .where(deliveries.c.status.in_(("sent", "dead")), deliveries.c.reported.is_(False))
                .limit(self.batch)
            )
            for d in conn.execute(settled):
                common = dict(
                    source_event_id=d.source_event_id, kind=d.kind, channel=d.channel, attempts=d.attempts
                )
                event: Event = (
                    NotificationDelivered(**common)
                    if d.status == "sent"
                    else NotificationUndeliverable(**common, reason=d.reason or "refused")
                )
                envelope = _wrap(event, d.agency, d.notice_id, f"{d.delivery_id}/{d.status}", now)
                out.append((envelope, ("delivery", d.delivery_id)))
            missed = select(notices).where(notices.c.outcome == "missed", notices.c.reported.is_(False))
            for n in conn.execute(missed.limit(self.batch)):
                page = PageMissed(
                    escalation_id=n.escalation_id, tier=n.tier, role=n.role, reason=n.missed_reason
                )
                out.append(
                    (
                        _wrap(page, n.agency, n.notice_id, "missed", now),
                        ("notice", n.notice_id),
                    )
                )
            changed = select(reach).where(reach.c.reported.is_(False)).limit(self.batch)
            for r in conn.execute(changed):
                event = PeerReachabilityChanged(peer_ref=r.ref, reachable=r.reachable)
                envelope = _wrap(event, r.agency, r.ref, f"reach/{r.version}", now)
                out.append((envelope, ("reach", r.agency, r.ref, r.version)))
        return out

    def _mark(self, mark: tuple[Any, ...]) -> None:
        with self.engine.begin() as conn:
            if mark[0] == "delivery":
                conn.execute(
                    deliveries.update().where(deliveries.c.delivery_id == mark[1]).values(reported=True)
                )
            elif mark[0] == "notice":
                conn.execute(notices.update().where(notices.c.notice_id == mark[1]).values(reported=True))
            else:
                _, agency, ref, version = mark
                where = (reach.c.agency == agency) & (reach.c.ref == ref) & (reach.c.version == version)
                conn.execute(reach.update().where(where).values(reported=True))
