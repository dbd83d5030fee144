"""Matching's read model: the peer directory, open assignments, incident crews, explanations, timers.

A peer's row holds the state folded by `peers.evolve` (so the view and the rules cannot drift apart)
plus its active-case count. Timers: an offer expires at `respond_by`; a case left waiting after a
decline or expiry is matched again; an active peer is reminded to re-confirm before their deadline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, Text, select

from services.matching import peers as rules
from services.matching.codec import peer_from_json, peer_to_json
from services.matching.peers import Peer, Policy
from shared.contracts.base import Event
from shared.contracts.intake import CriticalIncidentReported, IncidentRespondersAdded, RequestCancelled
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    PeerDeselected,
    PeerReconfirmationRequested,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed
from shared.envelope import Envelope
from shared.timers import Timer, cancel, schedule, timers_table

metadata = MetaData()
peers = Table(
    "peers",
    metadata,
    Column("peer_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("stage", String(16), nullable=False),
    Column("state", Text, nullable=False),
    Column("active_cases", Integer, nullable=False, default=0),
)
assignments = Table(
    "assignments",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("assignment_id", String(96), nullable=False),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # offered | accepted
)
offers = Table(
    "offers",
    metadata,
    Column("assignment_id", String(96), primary_key=True),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("offered_at", DateTime(timezone=True), nullable=False, index=True),
)
incident_people = Table(
    "incident_people",
    metadata,
    Column("incident_id", String(96), primary_key=True),
    Column("member_ref", String(64), primary_key=True),
)
decisions = Table(
    "decisions",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("peer_ref", String(64)),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("explanation", Text, nullable=False),
)
timers = timers_table(metadata)


class DirectoryProjection:
    name = "matching-directory"
    metadata = metadata

    def __init__(
        self, policy: Callable[[str], Policy] | None = None, name: str = "matching-directory"
    ) -> None:
        self.policy = policy or (lambda _agency: Policy())
        self.name = name

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if env.aggregate == "peer":
            self._peer(conn, env, event)
            return
        match event:
            case CriticalIncidentReported() | IncidentRespondersAdded():
                for person in event.involved:
                    conn.execute(
                        incident_people.delete().where(
                            (incident_people.c.incident_id == env.subject)
                            & (incident_people.c.member_ref == person.member_ref)
                        )
                    )
                    conn.execute(
                        incident_people.insert().values(incident_id=env.subject, member_ref=person.member_ref)
                    )
            case PeerAssigned():
                self._release(conn, env.subject)
                conn.execute(
                    assignments.insert().values(
                        case_id=env.subject,
                        agency=env.agency,
                        assignment_id=event.assignment_id,
                        peer_ref=event.peer_ref,
                        status="offered",
                    )
                )
                conn.execute(
                    offers.insert().values(
                        assignment_id=event.assignment_id or f"{env.subject}-{seq}",
                        peer_ref=event.peer_ref,
                        offered_at=env.time,
                    )
                )
                self._count(conn, event.peer_ref, +1)
                self._decision(conn, env, seq, "assigned", event.peer_ref, event.explanation)
                cancel(conn, timers, f"assign:{env.subject}")
                if event.respond_by:
                    due = datetime.fromisoformat(event.respond_by)
                    data = {"assignment_id": event.assignment_id}
                    timer = Timer(
                        f"expire:{event.assignment_id}", "expire", env.agency, env.subject, due, data
                    )
                    schedule(conn, timers, timer)
            case AssignmentAccepted():
                conn.execute(
                    assignments.update().where(assignments.c.case_id == env.subject).values(status="accepted")
                )
                cancel(conn, timers, f"expire:{event.assignment_id}")
            case AssignmentDeclined() | AssignmentExpired():
                self._release(conn, env.subject)
                timer = Timer(f"assign:{env.subject}", "assign", env.agency, env.subject, env.time, {})
                schedule(conn, timers, timer)  # a safety net: settled at once by the next decision
            case RequestUnmatched():
                self._decision(conn, env, seq, "unmatched", None, event.explanation)
                cancel(conn, timers, f"assign:{env.subject}")
            case RequestCancelled() | CaseClosed():
                self._release(conn, env.subject)
                cancel(conn, timers, f"assign:{env.subject}")

    def _peer(self, conn: Connection, env: Envelope, event: Event) -> None:
        row = conn.execute(select(peers.c.state).where(peers.c.peer_ref == env.subject)).scalar()
        before = peer_from_json(row) if row else Peer(env.subject, env.agency)
        after = rules.evolve(before, event, env.time)
        if row is None:
            conn.execute(
                peers.insert().values(
                    peer_ref=env.subject,
                    agency=env.agency,
                    stage=after.stage,
                    state=peer_to_json(after),
                    active_cases=0,
                )
            )
        else:
            conn.execute(
                peers.update()
                .where(peers.c.peer_ref == env.subject)
                .values(stage=after.stage, state=peer_to_json(after))
            )
        timer_id = f"remind:{env.subject}"
        if isinstance(event, PeerDeselected | PeerReconfirmationRequested):
            cancel(conn, timers, timer_id)
        elif after.confirmed_at != before.confirmed_at or after.stage != before.stage:
            due = rules.reminder_due(after, self.policy(env.agency))
            if due is not None:
                data = {
                    "due_by": due[1].isoformat(),
                    "confirmed_at": after.confirmed_at.isoformat() if after.confirmed_at else None,
                }
                schedule(conn, timers, Timer(timer_id, "remind", env.agency, env.subject, due[0], data))

    def _count(self, conn: Connection, peer_ref: str, delta: int) -> None:
        conn.execute(
            peers.update()
            .where(peers.c.peer_ref == peer_ref)
            .values(active_cases=peers.c.active_cases + delta)
        )

    def _release(self, conn: Connection, case_id: str) -> None:
        row = conn.execute(select(assignments).where(assignments.c.case_id == case_id)).mappings().first()
        if row is None:
            return
        conn.execute(assignments.delete().where(assignments.c.case_id == case_id))
        cancel(conn, timers, f"expire:{row['assignment_id']}")
        self._count(conn, row["peer_ref"], -1)

    def _decision(
        self,
        conn: Connection,
        env: Envelope,
        seq: int,
        outcome: str,
        peer_ref: str | None,
        explanation: object,
    ) -> None:
        body = explanation.model_dump(mode="json") if explanation is not None else {}  # type: ignore[attr-defined]
        conn.execute(
            decisions.insert().values(
                case_id=env.subject,
                seq=seq,
                agency=env.agency,
                outcome=outcome,
                peer_ref=peer_ref,
                decided_at=env.time,
                explanation=json.dumps(body, sort_keys=True),
            )
        )
