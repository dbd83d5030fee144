"""Intake's read model: each case's status, for the requester (by token) and the coordinator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, bindparam

from services.intake.domain import Case, Meeting, Status, evolve
from services.intake.queries import case_meeting
from services.intake.tables import cases, meetings, metadata
from shared.contracts.base import Event
from shared.contracts.intake import CallbackLeft, CallbackReleased, RequestCancelled, SupportRequested
from shared.contracts.matching import AssignmentAccepted, PeerAssigned
from shared.contracts.tracking import CaseClosed
from shared.envelope import Envelope
from shared.projection import remembered
from shared.topology import consumer

Shred = Callable[[str, datetime], None]


# Built once: constructing statements per event costs several times what SQLite spends running them.
_INSERT = cases.insert()
_OPEN = meetings.insert()
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
    built_late = ("ix_cases_agency", "ix_meetings_member_ref")  # apply reads by case id only
    metadata = metadata
    # every case event moves `updated_at`; some change the status or the meeting
    handles = consumer("intake-cases").events

    def __init__(self, shred: Shred | None = None) -> None:
        self.shred = shred

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        known = remembered(conn, "meetings")  # each case's meeting as this batch left it
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
            known[env.subject] = Meeting("requested", event.member_ref)
            return
        found = known.get(env.subject) or case_meeting(conn, env.subject)
        if found is None:
            return  # an event for a case opened elsewhere (none today): nothing for the requester to see
        new = evolve(Case(status=cast(Status, found.status)), event).status
        conn.execute(_UPDATE, {"cid": env.subject, "new_status": new, "at": env.time, "seq": seq})
        after = Meeting(new, found.member_ref, found.peer_ref, found.assignment_id, found.callback)
        if found.member_ref:
            after = self._meeting(conn, env, event, after)
        known[env.subject] = after

    def _meeting(self, conn: Connection, env: Envelope, event: Event, found: Meeting) -> Meeting:
        """`found`: the meeting as it stood before this event (status aside); returns it after."""
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
        if not changes:
            return found
        row: dict[str, object] = {
            "peer_ref": found.peer_ref,
            "assignment_id": found.assignment_id,
            "callback": found.callback,
        }
        row.update(changes)
        conn.execute(
            _MEET,
            {
                "cid": env.subject,
                "peer": row["peer_ref"],
                "assignment": row["assignment_id"],
                "cb": row["callback"],
            },
        )
        return Meeting(found.status, found.member_ref, **row)  # type: ignore[arg-type]
