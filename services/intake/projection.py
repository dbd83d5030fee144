"""Intake's read model: each case's status, for the requester (by token) and the coordinator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, bindparam, select

from services.intake.domain import Case, Meeting, Status, evolve
from shared.contracts.base import Event
from shared.contracts.intake import CallbackLeft, CallbackReleased, RequestCancelled, SupportRequested
from shared.contracts.matching import AssignmentAccepted, PeerAssigned
from shared.contracts.tracking import CaseClosed
from shared.envelope import Envelope
from shared.topology import consumer

metadata = MetaData()
cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("activation", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
)

# Who the member meets: whose case it is, the peer who accepted it, what became of a callback.
meetings = Table(
    "meetings",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("member_ref", String(64), nullable=False, index=True),
    Column("peer_ref", String(64)),
    Column("assignment_id", String(96), nullable=False, default=""),
    Column("callback", String(16)),  # left | released | shredded
)
Shred = Callable[[str, datetime], None]


# Built once: constructing statements per event costs several times what SQLite spends running them.
_INSERT = cases.insert()
_OPEN = meetings.insert()
_MEETING = (
    select(
        cases.c.status,
        meetings.c.member_ref,
        meetings.c.peer_ref,
        meetings.c.assignment_id,
        meetings.c.callback,
    )
    .select_from(cases.outerjoin(meetings, cases.c.case_id == meetings.c.case_id))
    .where(cases.c.case_id == bindparam("cid"))
)
_UPDATE = (
    cases.update()
    .where(cases.c.case_id == bindparam("cid"))
    .values(status=bindparam("new_status"), updated_at=bindparam("at"), last_seq=bindparam("seq"))
)
_MEET = (
    meetings.update()
    .where(meetings.c.case_id == bindparam("cid"))
    .values(peer_ref=bindparam("peer"), assignment_id=bindparam("assignment"), callback=bindparam("cb"))
)


class CaseProjection:
    """`shred(case_id, at)` destroys a case's callback key when the case closes, is cancelled or is
    given to another peer after one accepted (idempotent: a replay shreds nothing twice)."""

    name = "intake-cases"
    metadata = metadata
    # every case event moves `updated_at`; some change the status or the meeting
    handles = consumer("intake-cases").events

    def __init__(self, shred: Shred | None = None) -> None:
        self.shred = shred

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if isinstance(event, SupportRequested):
            row = {
                "case_id": env.subject,
                "agency": env.agency,
                "activation": event.activation,
                "status": "requested",
                "token_hash": event.token_hash,
                "requested_at": env.time,
                "updated_at": env.time,
                "last_seq": seq,
            }
            conn.execute(_INSERT, row)
            conn.execute(_OPEN, {"case_id": env.subject, "member_ref": event.member_ref})
            return
        found = _meeting(conn, env.subject)
        if found is None:
            return  # an event for a case opened elsewhere (none today): nothing for the requester to see
        new = evolve(Case(status=cast(Status, found.status)), event).status
        conn.execute(_UPDATE, {"cid": env.subject, "new_status": new, "at": env.time, "seq": seq})
        if found.member_ref:
            self._meeting(conn, env, event, found)

    def _meeting(self, conn: Connection, env: Envelope, event: Event, found: Meeting) -> None:
        """`found`: the meeting as it stood before this event (status aside)."""
        changes: dict[str, object] = {}
        match event:
            case AssignmentAccepted():
                changes = {"peer_ref": event.peer_ref, "assignment_id": event.assignment_id}
            case CallbackLeft():
                changes = {"callback": "left"}
            case CallbackReleased() if found.callback == "left":
                changes = {"callback": "released"}
            case PeerAssigned() if found.peer_ref is not None:  # given to another after one accepted
                changes = {"peer_ref": None, "assignment_id": ""}
        reassigned = isinstance(event, PeerAssigned) and found.peer_ref is not None
        settled = reassigned or isinstance(event, CaseClosed | RequestCancelled)
        if settled and found.callback in ("left", "released"):
            changes["callback"] = "shredded"
            if self.shred is not None:
                self.shred(env.subject, env.time)
        if changes:
            row: dict[str, object] = {
                "peer_ref": found.peer_ref,
                "assignment_id": found.assignment_id,
                "callback": found.callback,
            }
            row.update(changes)
            params = {"peer": row["peer_ref"], "assignment": row["assignment_id"], "cb": row["callback"]}
            conn.execute(_MEET, {"cid": env.subject, **params})


def find(conn: Connection, case_id: str) -> dict[str, object] | None:
    row = conn.execute(select(cases).where(cases.c.case_id == case_id)).mappings().first()
    return dict(row) if row else None


def meeting(conn: Connection, case_id: str) -> Meeting | None:
    found = _meeting(conn, case_id)
    return found if found is not None and found.member_ref else None


def _meeting(conn: Connection, case_id: str) -> Meeting | None:
    """The case's status and meeting (member_ref "" when the case has no meeting row); None: no case."""
    row = conn.execute(_MEETING, {"cid": case_id}).first()
    if row is None:
        return None
    return Meeting(row.status, row.member_ref or "", row.peer_ref, row.assignment_id or "", row.callback)


def list_cases(conn: Connection, agency: str, status: str | None, limit: int) -> list[dict[str, object]]:
    q = select(cases.c.case_id, cases.c.activation, cases.c.status, cases.c.requested_at, cases.c.updated_at)
    q = q.where(cases.c.agency == agency).order_by(cases.c.requested_at.desc()).limit(limit)
    if status:
        q = q.where(cases.c.status == status)
    return [dict(r) for r in conn.execute(q).mappings()]
