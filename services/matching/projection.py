"""Matching's read model: the peer directory, open assignments, incident crews, explanations, timers.

A peer's row holds the state folded by `peers.evolve` (so the view and the rules cannot drift apart)
plus its active-case count. Timers: an offer expires at `respond_by`; a case left waiting after a
decline or expiry is matched again; an active peer is reminded to re-confirm before their deadline.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    inspect,
    select,
)
from sqlalchemy import event as sa_event

from services.matching.domain import peers as rules
from services.matching.domain.codec import peer_from_json, peer_to_json
from services.matching.domain.peers import Peer, Policy
from services.matching.tables import (
    assignments,
    decisions,
    incident_people,
    metadata,
    offer_days,
    offers,
    open_offers,
    peers,
    reach_agencies,
    timers,
)
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
from shared.projection import add_up, later, remembered, unhandled
from shared.timers import Timer, cancel, schedule
from shared.topology import consumer

# Built once, executed with parameters: building and cache-keying a statement per event costs several
# times what SQLite spends running it.
_CREW_DELETE = incident_people.delete().where(
    (incident_people.c.incident_id == bindparam("b_incident"))
    & (incident_people.c.member_ref == bindparam("b_member"))
)
_CREW_INSERT = incident_people.insert()
_ASSIGNMENT_INSERT = assignments.insert()
_ASSIGNMENT_FIND = select(assignments.c.assignment_id, assignments.c.peer_ref).where(
    assignments.c.case_id == bindparam("b_case")
)
_HELD_BY = select(assignments.c.case_id, assignments.c.agency).where(
    assignments.c.peer_ref == bindparam("b_peer")
)
_ASSIGNMENT_DELETE = assignments.delete().where(assignments.c.case_id == bindparam("b_case"))
_ASSIGNMENT_ACCEPT = (
    assignments.update().where(assignments.c.case_id == bindparam("b_case")).values(status="accepted")
)
_OFFER_INSERT = offers.insert()
_OFFER_DAY_INSERT = offer_days.insert()
_DECISION_INSERT = decisions.insert()
_OPEN_OFFER_INSERT = open_offers.insert()
_OPEN_OFFER_DELETE = open_offers.delete().where(open_offers.c.case_id == bindparam("b_case"))
_REACH_KNOWN = select(reach_agencies.c.agency).where(reach_agencies.c.agency == bindparam("b_agency"))
_PEER_STATE = select(peers.c.state).where(peers.c.peer_ref == bindparam("b_peer"))
_PEER_INSERT = peers.insert()
_PEER_UPDATE = (
    peers.update()
    .where(peers.c.peer_ref == bindparam("b_peer"))
    .values(stage=bindparam("b_stage"), state=bindparam("b_state"))
)
_PEER_COUNT = (
    peers.update()
    .where(peers.c.peer_ref == bindparam("b_peer"))
    .values(active_cases=peers.c.active_cases + bindparam("b_delta"))
)


class Held(NamedTuple):
    """A case's assignment as `_ASSIGNMENT_FIND` reads it."""

    assignment_id: str
    peer_ref: str


class DirectoryProjection:
    name = "matching-directory"
    defers = True  # timers are written once per batch (shared.timers, shared.projection.replace_later)
    # indexes only queries read (apply reads assignments and peers by peer and agency: those stay)
    built_late = (
        "ix_offers_peer_ref",
        "ix_offers_offered_at",
        "ix_decisions_agency",
        "ix_open_offers_peer_ref",
        "ix_timers_due_at",
    )
    metadata = metadata
    handles = consumer("matching-directory").events  # every peer and reach event: the peer rules (`_peer`)

    def __init__(
        self, policy: Callable[[str], Policy] | None = None, name: str = "matching-directory"
    ) -> None:
        self.policy = policy or (lambda _agency: Policy())
        self.name = name

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        aggregate = env.aggregate
        if aggregate == "reach":
            self._reach_reported(conn, env.agency)
        if aggregate in ("peer", "reach"):  # a reach event's subject is the peer_ref
            self._peer(conn, env, event)
            return
        match event:
            case CriticalIncidentReported() | IncidentRespondersAdded():
                for person in event.involved:
                    conn.execute(_CREW_DELETE, {"b_incident": env.subject, "b_member": person.member_ref})
                    conn.execute(_CREW_INSERT, {"incident_id": env.subject, "member_ref": person.member_ref})
            case PeerAssigned():
                self._release(conn, env.subject)
                conn.execute(
                    _ASSIGNMENT_INSERT,
                    {
                        "case_id": env.subject,
                        "agency": env.agency,
                        "assignment_id": event.assignment_id,
                        "peer_ref": event.peer_ref,
                        "status": "offered",
                    },
                )
                remembered(conn, "held")[env.subject] = Held(event.assignment_id, event.peer_ref)
                later(  # offers and decisions are only appended here: one executemany per batch
                    conn,
                    _OFFER_INSERT,
                    {
                        "assignment_id": event.assignment_id or f"{env.subject}-{seq}",
                        "peer_ref": event.peer_ref,
                        "offered_at": env.time,
                    },
                )
                conn.execute(
                    _OPEN_OFFER_INSERT,
                    {
                        "case_id": env.subject,
                        "case_agency": env.agency,
                        "assignment_id": event.assignment_id,
                        "peer_ref": event.peer_ref,
                        "offered_at": env.time,
                        "respond_by": event.respond_by,
                    },
                )
                self._offer_day(conn, event.peer_ref, env.time)
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
                conn.execute(_ASSIGNMENT_ACCEPT, {"b_case": env.subject})
                conn.execute(_OPEN_OFFER_DELETE, {"b_case": env.subject})
                cancel(conn, timers, f"expire:{event.assignment_id}")
            case AssignmentDeclined() | AssignmentExpired():
                self._release(conn, env.subject)
                at, case = env.time, env.subject
                timer = Timer(f"assign:{case}", "assign", env.agency, case, at, {}, cause=env.id)
                schedule(conn, timers, timer)  # a safety net: settled at once by the next decision
            case RequestUnmatched():
                self._decision(conn, env, seq, "unmatched", None, event.explanation)
                cancel(conn, timers, f"assign:{env.subject}")
            case RequestCancelled() | CaseClosed():
                self._release(conn, env.subject)
                cancel(conn, timers, f"assign:{env.subject}")
            case _:
                unhandled(event)

    def _peer(self, conn: Connection, env: Envelope, event: Event) -> None:
        row = conn.execute(_PEER_STATE, {"b_peer": env.subject}).scalar()
        before = peer_from_json(row) if row else Peer(env.subject, env.agency)
        after = rules.evolve(before, event, env.time)
        if row is None:
            if conn.execute(_REACH_KNOWN, {"b_agency": env.agency}).first() is not None:
                after = rules.reach_reported(after)
            conn.execute(
                _PEER_INSERT,
                {
                    "peer_ref": env.subject,
                    "agency": env.agency,
                    "stage": after.stage,
                    "state": peer_to_json(after),
                    "active_cases": 0,
                },
            )
        else:
            conn.execute(
                _PEER_UPDATE,
                {"b_peer": env.subject, "b_stage": after.stage, "b_state": peer_to_json(after)},
            )
        self._hand_on(conn, env, before, after)
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

    def _hand_on(self, conn: Connection, env: Envelope, before: Peer, after: Peer) -> None:
        """A peer just deselected or gone on a break: each case still with them is handed on (a timer
        due now, so the handing on survives a restart and happens once)."""
        if after.stage == "deselected" and before.stage != "deselected":
            why = "peer_deselected"
        elif rules.defect(before) or rules.defect(after):
            return  # a record matching cannot evaluate (skipped by matching, logged there)
        elif after.on_break(env.time) and not before.on_break(env.time):
            why = "peer_on_break"
        else:
            return
        for case_id, agency in conn.execute(_HELD_BY, {"b_peer": env.subject}).all():
            data = {"peer_ref": env.subject, "why": why}
            timer = Timer(f"handon:{case_id}", "handon", agency, case_id, env.time, data, cause=env.id)
            schedule(conn, timers, timer)

    def _reach_reported(self, conn: Connection, agency: str) -> None:
        """The first word from notify on an agency: its peers not (yet) named reachable are not."""
        if conn.execute(_REACH_KNOWN, {"b_agency": agency}).first() is not None:
            return
        conn.execute(reach_agencies.insert(), {"agency": agency})
        for ref, state in conn.execute(
            select(peers.c.peer_ref, peers.c.state).where(peers.c.agency == agency)
        ):
            peer = rules.reach_reported(peer_from_json(state))
            conn.execute(_PEER_UPDATE, {"b_peer": ref, "b_stage": peer.stage, "b_state": peer_to_json(peer)})

    def _offer_day(self, conn: Connection, peer_ref: str, at: datetime) -> None:
        add_up(conn, offer_days, [{"peer_ref": peer_ref, "day": utc_day(at), "offers": 1}], "offers")

    def _count(self, conn: Connection, peer_ref: str, delta: int) -> None:
        conn.execute(_PEER_COUNT, {"b_peer": peer_ref, "b_delta": delta})

    def _release(self, conn: Connection, case_id: str) -> None:
        held = remembered(conn, "held")  # each case's assignment as this batch left it (None: none)
        if case_id not in held:
            held[case_id] = conn.execute(_ASSIGNMENT_FIND, {"b_case": case_id}).first()
        row = held[case_id]
        if row is None:
            return
        held[case_id] = None
        conn.execute(_ASSIGNMENT_DELETE, {"b_case": case_id})
        conn.execute(_OPEN_OFFER_DELETE, {"b_case": case_id})
        cancel(conn, timers, f"expire:{row.assignment_id}")
        cancel(conn, timers, f"handon:{case_id}")
        self._count(conn, row.peer_ref, -1)

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
        later(
            conn,
            _DECISION_INSERT,
            {
                "case_id": env.subject,
                "seq": seq,
                "agency": env.agency,
                "outcome": outcome,
                "peer_ref": peer_ref,
                "decided_at": env.time,
                "explanation": json.dumps(body, sort_keys=True),
            },
        )


def utc_day(at: datetime) -> str:
    return (at.astimezone(UTC) if at.tzinfo else at).date().isoformat()


@sa_event.listens_for(offer_days, "after_create")
def _backfill_offer_days(_table: Table, conn: Connection, **_kw: object) -> None:
    """A view made before `offer_days` existed: count its offers in (a fresh view has none)."""
    if not inspect(conn).has_table(offers.name):
        return
    counts: Counter[tuple[str, str]] = Counter(
        (ref, utc_day(at)) for ref, at in conn.execute(select(offers.c.peer_ref, offers.c.offered_at))
    )
    if counts:
        rows = [{"peer_ref": ref, "day": day, "offers": n} for (ref, day), n in counts.items()]
        conn.execute(_OFFER_DAY_INSERT, rows)
