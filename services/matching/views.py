"""Queries on matching's read model: candidates for a case, the directory listing, explanations."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from services.matching.codec import peer_from_json
from services.matching.domain import Case
from services.matching.peers import Peer
from services.matching.projection import assignments, decisions, incident_people, offers, peers


def peer(conn: Connection, peer_ref: str) -> Peer | None:
    row = conn.execute(select(peers).where(peers.c.peer_ref == peer_ref)).mappings().first()
    if row is None:
        return None
    return dataclasses.replace(peer_from_json(row["state"]), active_cases=row["active_cases"])


def candidates(conn: Connection, case: Case, now: datetime, recent_days: float) -> list[Peer]:
    """Every peer in the request's scope (own agency, or the region), with load and recent offers."""
    query = select(peers)
    if case.preferences.agency_scope == "own":
        query = query.where(peers.c.agency == case.agency)
    since = now - timedelta(days=recent_days)
    recent: dict[str, int] = dict(
        conn.execute(
            select(offers.c.peer_ref, func.count())
            .where(offers.c.offered_at >= since)
            .group_by(offers.c.peer_ref)
        ).all()
    )
    out = []
    for row in conn.execute(query.order_by(peers.c.peer_ref)).mappings():
        p = peer_from_json(row["state"])
        out.append(
            dataclasses.replace(
                p, active_cases=row["active_cases"], recent_assignments=int(recent.get(row["peer_ref"], 0))
            )
        )
    return out


def witnesses(conn: Connection, incident_ref: str | None) -> frozenset[str]:
    if not incident_ref:
        return frozenset()
    rows = conn.execute(
        select(incident_people.c.member_ref).where(incident_people.c.incident_id == incident_ref)
    ).scalars()
    return frozenset(rows)


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
        "mentor_ref": p.mentor_ref,
        "acknowledged": p.acknowledged,
        "on_duty": p.on_duty,
        "windows": [w.model_dump() for w in p.windows],
        "tz": p.tz,
        "break_until": p.break_until,
        "overloaded": p.overloaded,
        "confirmed_at": p.confirmed_at,
        "active_cases": p.active_cases,
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
