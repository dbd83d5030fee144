"""The inbox: each log event that someone must hear about becomes notices and deliveries, queued in the
same transaction that moves notify's position on the log (the projection runner's exactly-once apply).

The audience is resolved when the event is applied, from the event's own time: the person on call when
the page went out, the peer offered the case then. A page with nobody to send it to is missed at once.
Events older than `stale_after` (a first start on a long log) are remembered but announce nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, MetaData, bindparam, select

from services.notify import domain
from services.notify import queries as people
from services.notify.tables import case_peers, deliveries, escalation_cases, metadata, notices
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.escalation import EscalationTriggered
from shared.contracts.matching import PeerAssigned
from shared.envelope import Envelope
from shared.projection import replace, unhandled
from shared.topology import consumer

# Built once: the inbox applies them for every event (see services/notify/queries.py).
_NOTICE_KNOWN = select(notices.c.notice_id).where(notices.c.notice_id == bindparam("nid"))
_NOTICE_INSERT = notices.insert()
_DELIVERIES_INSERT = deliveries.insert()
_CASE_PEER = select(case_peers).where(case_peers.c.case_id == bindparam("case_id"))
_ESCALATION = select(escalation_cases).where(escalation_cases.c.escalation_id == bindparam("eid"))


class Inbox:
    name = "notify-inbox"
    metadata: MetaData = metadata
    handles = consumer("notify-inbox").events  # what `domain.notices_for` turns into notices

    def __init__(self, clock: Clock, channels: Iterable[str], stale_after: timedelta) -> None:
        self.clock, self.channels, self.stale_after = clock, frozenset(channels), stale_after

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        found = domain.notices_for(env.agency, env.subject, event)
        if found is None:
            unhandled(event)
        remember(conn, env, event)
        at = env.time.astimezone(UTC)
        if at < self.clock.now() - self.stale_after:
            return
        for notice in found:
            self.queue(conn, env.id, at, notice)

    def queue(self, conn: Connection, source_event_id: str, at: datetime, notice: domain.Notice) -> None:
        nid = domain.notice_id(source_event_id, notice.audience)
        if conn.execute(_NOTICE_KNOWN, {"nid": nid}).first():
            return
        page = notice.page
        recipients = audience(conn, notice.audience, at)
        rows = []
        for agency, ref in recipients:
            found = people.prefs(conn, agency, ref)
            if found is None or (notice.opt_in and not found.opt_in):
                continue
            due = domain.deliver_at(at, found.quiet, urgent=page is not None)
            for contact in people.working_contacts(conn, agency, ref, self.channels):
                rows.append(
                    dict(
                        delivery_id=domain.delivery_id(nid, contact.contact_id),
                        notice_id=nid,
                        contact_id=contact.contact_id,
                        channel=contact.channel,
                        link=notice.link,
                        created_at=at,
                        due_at=due,
                    )
                )
        missed = None
        if page is not None and not rows:
            missed = "no_working_channel" if recipients else "nobody_on_call"
        conn.execute(
            _NOTICE_INSERT,
            dict(
                notice_id=nid,
                source_event_id=source_event_id,
                agency=notice.audience.agency,
                kind=notice.kind,
                escalation_id=page.escalation_id if page else None,
                tier=page.tier if page else None,
                role=page.role if page else None,
                outcome="missed" if missed else "pending",
                missed_reason=missed,
            ),
        )
        if rows:
            conn.execute(_DELIVERIES_INSERT, rows)


def remember(conn: Connection, env: Envelope, event: Event) -> None:
    """What later events need to find their audience: the peer offered a case, the case of an escalation."""
    if isinstance(event, PeerAssigned):
        peer_agency = event.peer_agency or env.agency
        row = {"case_id": env.subject, "peer_agency": peer_agency, "peer_ref": event.peer_ref}
        replace(conn, case_peers, env.subject, row)
    elif isinstance(event, EscalationTriggered):
        row = {"escalation_id": env.subject, "case_id": event.case_id, "raised_by_role": event.raised_by_role}
        replace(conn, escalation_cases, env.subject, row)


def audience(conn: Connection, who: domain.Audience, at: datetime) -> list[tuple[str, str]]:
    """The (agency, ref) of each person an audience means at time `at`."""
    match who:
        case domain.Person():
            return [(who.agency, who.ref)]
        case domain.OnCall():
            return [(who.agency, ref) for ref in people.on_call(conn, who.agency, who.role, at)]
        case domain.Coordinators():
            return [(who.agency, ref) for ref in people.coordinators(conn, who.agency)]
        case domain.CasePeer():
            return _case_peer(conn, who.case_id)
        case domain.Raiser():
            row = conn.execute(_ESCALATION, {"eid": who.escalation_id}).first()
            if row is None or row.raised_by_role != "peer":
                return []
            return _case_peer(conn, row.case_id)
    return []


def _case_peer(conn: Connection, case_id: str) -> list[tuple[str, str]]:
    row = conn.execute(_CASE_PEER, {"case_id": case_id}).first()
    return [] if row is None else [(row.peer_agency, row.peer_ref)]
