"""Queries on matching's read model: candidates for a case, the directory listing, explanations."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

from prometheus_client import Counter as Metric
from sqlalchemy import Connection, bindparam, func, select

from services.matching.domain import Case
from services.matching.domain.codec import peer_from_json
from services.matching.domain.peers import Peer, defect, with_load
from services.matching.projection import utc_day
from services.matching.tables import (
    assignments,
    decisions,
    incident_people,
    offer_days,
    offers,
    open_offers,
    peers,
)
from shared.projection import positions

_PEERS = select(peers.c.peer_ref, peers.c.agency, peers.c.state, peers.c.active_cases).order_by(
    peers.c.peer_ref
)
_RECENT_DAYS = (
    select(offer_days.c.peer_ref, func.sum(offer_days.c.offers))
    .where(offer_days.c.day >= bindparam("b_day"))
    .group_by(offer_days.c.peer_ref)
)
_OFFERS_BETWEEN = select(offers.c.peer_ref).where(
    (offers.c.offered_at >= bindparam("b_since")) & (offers.c.offered_at < bindparam("b_until"))
)
_WITNESSES = select(incident_people.c.member_ref).where(
    incident_people.c.incident_id == bindparam("b_incident")
)
_DECIDED = select(decisions.c.case_id).where(decisions.c.case_id.in_(bindparam("b_cases", expanding=True)))
_POSITION = select(positions.c.last_seq).where(positions.c.projection == bindparam("b_name"))
_decoded: dict[str, Peer] = {}  # a peer's state as stored -> the Peer (it changes rarely; decoding is dear)
_unusable: set[str] = set()  # stored states matching cannot evaluate (logged and counted once each)
log = logging.getLogger("peerline.matching")
SKIPPED = Metric(
    "peerline_matching_peer_records_skipped", "stored peer records matching could not evaluate and skipped"
)


def decode(state: str) -> Peer:
    found = _decoded.get(state)
    if found is None:
        if len(_decoded) >= 20_000:
            _decoded.clear()
        found = _decoded[state] = peer_from_json(state)
    return found


def usable(peer_ref: str, state: str) -> Peer | None:
    """The stored peer, or None (logged and counted) if its record cannot be evaluated: one bad record
    never fails the requests that would consider the peer."""
    if state in _unusable:
        return None
    try:
        peer: Peer | None = decode(state)
        reason = defect(peer) if peer is not None else None
    except (ValueError, TypeError, KeyError) as exc:
        peer, reason = None, f"unreadable record ({type(exc).__name__})"
    if reason is None:
        return peer
    if len(_unusable) >= 20_000:
        _unusable.clear()
    _unusable.add(state)
    SKIPPED.inc()
    log.error("peer %s skipped by matching: %s", peer_ref, reason)
    return None


def decided(conn: Connection, case_ids: list[str]) -> set[str]:
    """Which of these cases the view already holds a decision for (assigned or unmatched)."""
    return set(conn.execute(_DECIDED, {"b_cases": case_ids}).scalars()) if case_ids else set()


def applied(conn: Connection, projection: str) -> int:
    """The last stream sequence the view has applied (shared.projection.position, built once)."""
    return conn.execute(_POSITION, {"b_name": projection}).scalar() or 0


def peer(conn: Connection, peer_ref: str) -> Peer | None:
    row = conn.execute(select(peers).where(peers.c.peer_ref == peer_ref)).mappings().first()
    if row is None:
        return None
    return dataclasses.replace(decode(row["state"]), active_cases=row["active_cases"])


def candidates(conn: Connection, case: Case, now: datetime, recent_days: float) -> list[Peer]:
    """Every peer in the request's scope (own agency, or the region), with load and recent offers."""
    return in_scope(everyone(conn), recent_offers(conn, now, recent_days), case)


def everyone(conn: Connection) -> list[tuple[Peer, str, int]]:
    """Every peer in the directory (by peer_ref) with its agency and active-case count."""
    found = ((usable(ref, state), agency, active) for ref, agency, state, active in conn.execute(_PEERS))
    return [(p, agency, active) for p, agency, active in found if p is not None]


def recent_offers(conn: Connection, now: datetime, recent_days: float) -> dict[str, int]:
    """Offers made to each peer since `recent_days` before `now`: whole days from the per-day counts,
    the part of the first day after `since` from the offers themselves."""
    since, next_day = window(now, recent_days)
    found = Counter(day_sums(conn, utc_day(next_day)))
    found.update(offers_between(conn, since, next_day))
    return dict(found)


def window(now: datetime, recent_days: float) -> tuple[datetime, datetime]:
    """`since` and the midnight (UTC) after it: the offers in between, then whole days of them."""
    since = now - timedelta(days=recent_days)
    since_utc = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
    return since, datetime.combine(since_utc.date() + timedelta(days=1), time(), UTC)


def day_sums(conn: Connection, from_day: str) -> dict[str, int]:
    """Offers per peer on `from_day` (YYYY-MM-DD, UTC) and after."""
    return {ref: int(n) for ref, n in conn.execute(_RECENT_DAYS, {"b_day": from_day})}


def offers_between(conn: Connection, since: datetime, until: datetime) -> list[str]:
    """The peer of each offer made from `since` up to (not including) `until`."""
    return list(conn.execute(_OFFERS_BETWEEN, {"b_since": since, "b_until": until}).scalars())


def in_scope(directory: list[tuple[Peer, str, int]], recent: dict[str, int], case: Case) -> list[Peer]:
    """The candidates for `case` out of `everyone`, with their load and recent offers."""
    own = case.preferences.agency_scope == "own"
    return [
        with_load(p, active, recent.get(p.peer_ref, 0))
        for p, agency, active in directory
        if not own or agency == case.agency
    ]


def witnesses(conn: Connection, incident_ref: str | None) -> frozenset[str]:
    if not incident_ref:
        return frozenset()
    return frozenset(conn.execute(_WITNESSES, {"b_incident": incident_ref}).scalars())


def directory(conn: Connection, agency: str, stage: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(peers).where(peers.c.agency == agency)
    if stage:
        query = query.where(peers.c.stage == stage)
    rows = conn.execute(query.order_by(peers.c.peer_ref).limit(limit)).mappings()
    return [
        card(dataclasses.replace(peer_from_json(r["state"]), active_cases=r["active_cases"])) for r in rows
    ]


def card(p: Peer) -> dict[str, Any]:
    """What a coordinator sees of a peer (the peer's own member_ref and supervisors stay inside)."""
    return {
        "peer_ref": p.peer_ref,
        "agency": p.agency,
        "discipline": p.discipline,
        "unit": p.unit,
        "languages": list(p.languages),
        "stage": p.stage,
        "trainings": p.trainings,
        "training_expires": p.training_expires,
        "mentor_ref": p.mentor_ref,
        "acknowledged": p.acknowledged,
        "on_duty": p.on_duty,
        "windows": [w.model_dump() for w in p.windows],
        "tz": p.tz,
        "break_until": p.break_until,
        "overloaded": p.overloaded,
        "confirmed_at": p.confirmed_at,
        "active_cases": p.active_cases,
        "reachable": p.reachable,  # None: notify has not reported on the agency yet
    }


def explanations(conn: Connection, case_id: str) -> tuple[str | None, list[dict[str, Any]]]:
    rows = list(
        conn.execute(
            select(decisions).where(decisions.c.case_id == case_id).order_by(decisions.c.seq)
        ).mappings()
    )
    agency = rows[0]["agency"] if rows else None
    return agency, [
        {
            "outcome": r["outcome"],
            "peer_ref": r["peer_ref"],
            "decided_at": r["decided_at"],
            **json.loads(r["explanation"]),
        }
        for r in rows
    ]


def open_assignment(conn: Connection, case_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(assignments).where(assignments.c.case_id == case_id)).mappings().first()
    return dict(row) if row else None


def offers_to(conn: Connection, peer_ref: str) -> list[dict[str, Any]]:
    """Offers waiting for this peer's answer, oldest first."""
    query = select(open_offers).where(open_offers.c.peer_ref == peer_ref).order_by(open_offers.c.offered_at)
    return [dict(r) for r in conn.execute(query).mappings()]
