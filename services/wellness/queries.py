"""Reads of wellness's view, for the workers and the HTTP API. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from services.wellness.domain import Load, PeerState
from services.wellness.domain.policy import Policies
from services.wellness.tables import (
    assignments,
    checkins,
    contacts,
    followups,
    involvements,
    offers,
    peers,
)
from services.wellness.tables import statements as q


def peer_loads(
    conn: Connection, now: datetime, policies: Policies, peer_ref: str | None
) -> list[tuple[dict[str, Any], Load]]:
    """Each peer's row and load: active cases, contacts in 7 days, incidents they were on themselves."""
    q = select(peers)
    if peer_ref is not None:
        q = q.where(peers.c.peer_ref == peer_ref)
    rows = [dict(r) for r in conn.execute(q).mappings()]
    active: dict[str, int] = dict(
        conn.execute(select(assignments.c.peer_ref, func.count()).group_by(assignments.c.peer_ref)).all()
    )
    recent: dict[str, int] = dict(
        conn.execute(
            select(contacts.c.peer_ref, func.count())
            .where(contacts.c.at > now - timedelta(days=7))
            .group_by(contacts.c.peer_ref)
        ).all()
    )
    by_window: dict[timedelta, dict[str, int]] = {}
    for window in {policies.of(r["agency"]).personal_incident_window for r in rows}:
        by_window[window] = dict(
            conn.execute(
                select(involvements.c.member_ref, func.count(func.distinct(involvements.c.incident_id)))
                .where(involvements.c.occurred_at > now - window)
                .group_by(involvements.c.member_ref)
            ).all()
        )
    out = []
    for r in rows:
        window = policies.of(r["agency"]).personal_incident_window
        personal = by_window[window].get(r["member_ref"], 0) if r["member_ref"] else 0
        out.append((r, Load(active.get(r["peer_ref"], 0), recent.get(r["peer_ref"], 0), personal)))
    return out


def peer_state(row: dict[str, Any]) -> PeerState:
    return PeerState(
        overloaded=bool(row["overloaded"]),
        overloaded_at=_aware(row["overloaded_at"]),
        on_break=bool(row["on_break"]),
        break_until=_aware(row["break_until"]),
    )


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def peer(conn: Connection, peer_ref: str) -> dict[str, Any] | None:
    row = conn.execute(select(peers).where(peers.c.peer_ref == peer_ref)).mappings().first()
    return dict(row) if row else None


def waiting_offers(conn: Connection, incident_agency: str, incident_id: str) -> list[dict[str, Any]]:
    """People on an incident who have not been offered a debrief yet."""
    rows = conn.execute(q.WAITING, {"i_agency": incident_agency, "i_id": incident_id}).mappings()
    return [dict(r) for r in rows]


def deceased(conn: Connection, incident_agency: str, incident_id: str) -> dict[str, int]:
    """Per agency: how many people on the incident CAD marks deceased."""
    rows = conn.execute(q.DECEASED, {"i_agency": incident_agency, "i_id": incident_id})
    return {agency: int(n) for agency, n in rows}


def waiting_alerts(conn: Connection, incident_agency: str, incident_id: str) -> list[tuple[str, str]]:
    """(alert id, agency) of the alerts an incident still owes."""
    rows = conn.execute(q.ALERTS_WAITING, {"i_agency": incident_agency, "i_id": incident_id})
    return [(alert_id, agency) for alert_id, agency in rows]


def exposure_counts(
    conn: Connection, member_refs: Iterable[str], now: datetime, window: timedelta
) -> dict[str, int]:
    """Per responder: distinct critical incidents they were on within the window (0 if none)."""
    refs = sorted(set(member_refs))
    counts = {ref: 0 for ref in refs}
    if refs:
        rows = conn.execute(q.EXPOSURE_COUNTS, {"refs": refs, "since": now - window})
        counts.update({ref: int(n) for ref, n in rows})
    return counts


def exposure_count(conn: Connection, agency: str, member_ref: str, now: datetime, window: timedelta) -> int:
    """Distinct critical incidents the responder of `agency` was on within the window (another agency's
    member_ref counts nothing here)."""
    row = conn.execute(
        q.EXPOSURE_COUNTS.where(involvements.c.agency == agency),
        {"refs": [member_ref], "since": now - window},
    ).first()
    return int(row[1]) if row else 0


def exposure_checkins(conn: Connection, agency: str, member_ref: str) -> list[dict[str, Any]]:
    q = (
        select(checkins)
        .where(checkins.c.member_ref == member_ref)
        .where(checkins.c.agency == agency)
        .order_by(checkins.c.seq)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def offer(conn: Connection, offer_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(offers).where(offers.c.offer_id == offer_id)).mappings().first()
    return dict(row) if row else None


def member_offers(conn: Connection, agency: str, member_ref: str) -> list[dict[str, Any]]:
    q = select(offers).where(offers.c.agency == agency).where(offers.c.member_ref == member_ref)
    return [dict(r) for r in conn.execute(q.order_by(offers.c.window_opens)).mappings()]


def followup(conn: Connection, followup_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(followups).where(followups.c.followup_id == followup_id)).mappings().first()
    return dict(row) if row else None


def followups_of(
    conn: Connection, agency: str, *, peer_ref: str | None = None, status: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    q = select(followups).where(followups.c.agency == agency)
    if peer_ref is not None:
        q = q.where(followups.c.peer_ref == peer_ref)
    if status is not None:
        q = q.where(followups.c.status == status)
    return [dict(r) for r in conn.execute(q.order_by(followups.c.due_at).limit(limit)).mappings()]


def incident_uptake(conn: Connection, agency: str, limit: int = 100) -> list[dict[str, Any]]:
    """Per critical incident, the agency's debrief offers by answer: counts only, never who."""
    rows = conn.execute(
        select(offers.c.incident_id, offers.c.status, func.count())
        .where(offers.c.agency == agency)
        .group_by(offers.c.incident_id, offers.c.status)
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for incident_id, status, n in rows:
        entry = found.setdefault(
            incident_id, {"incident_id": incident_id, "offered": 0, "accepted": 0, "declined": 0}
        )
        entry["offered"] += int(n)
        if status in ("accepted", "declined"):
            entry[status] += int(n)
    return sorted(found.values(), key=lambda e: e["incident_id"], reverse=True)[:limit]
