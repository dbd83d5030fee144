"""Tracking's coordinator audit view: each case's timeline from the log, without content.

An entry says what happened and when (requested, assigned to which peer, accepted, contact reported,
follow-up scheduled/due/completed/overdue, escalation raised/advanced/acknowledged/resolved, closed),
never what was said: no categories, no risk flag, no escalation category or outcome, no member_ref.
Read by coordinators of the case's agency only; leadership never reaches these tables.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from services.tracking.tables import audit_entries, audit_escalations
from services.tracking.tables import audit_metadata as metadata
from shared.contracts.base import Event
from shared.contracts.escalation import (
    EscalationAcknowledged,
    EscalationResolved,
    EscalationTierAdvanced,
    EscalationTriggered,
)
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import FollowupCompleted, FollowupDue, FollowupOverdue, FollowupScheduled
from shared.envelope import Envelope
from shared.projection import later

CASE_EVENTS: dict[type[Event], str] = {
    SupportRequested: "requested",
    PeerAssigned: "peer_assigned",
    AssignmentAccepted: "assignment_accepted",
    AssignmentDeclined: "assignment_declined",
    AssignmentExpired: "assignment_expired",
    RequestUnmatched: "unmatched",
    RequestCancelled: "cancelled",
    ContactLogged: "contact_reported",
    CaseClosed: "closed",
}
FOLLOWUP_EVENTS: dict[type[Event], str] = {
    FollowupScheduled: "followup_scheduled",
    FollowupDue: "followup_due",
    FollowupCompleted: "followup_completed",
    FollowupOverdue: "followup_overdue",
}
ESCALATION_EVENTS: dict[type[Event], str] = {
    EscalationTriggered: "escalation_triggered",
    EscalationTierAdvanced: "escalation_tier_advanced",
    EscalationAcknowledged: "escalation_acknowledged",
    EscalationResolved: "escalation_resolved",
}


def _detail(event: Event) -> str | None:
    """Coded facts about the process, never about the member."""
    match event:
        case SupportRequested():
            return event.activation
        case FollowupScheduled():
            return f"followup {event.n}"
        case EscalationTierAdvanced() | EscalationAcknowledged():
            return f"tier {event.tier}"
        case CaseClosed():
            return f"by {event.by}"
    return None


# Built once: building statements per event costs several times what SQLite spends running them.
ENTRY_INSERT = audit_entries.insert()
LINK_INSERT = audit_escalations.insert()
LINK_OF = select(audit_escalations.c.case_id, audit_escalations.c.agency).where(
    audit_escalations.c.escalation_id == bindparam("eid")
)


class AuditProjection:
    name = "tracking-audit"
    metadata = metadata
    defers = True  # entries are written with one executemany per batch (shared.projection.later)
    handles: tuple[type[Event], ...] = (*CASE_EVENTS, *FOLLOWUP_EVENTS, *ESCALATION_EVENTS)

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        kind = type(event)
        if kind in CASE_EVENTS:
            self._add(conn, seq, env.subject, env.agency, env, CASE_EVENTS[kind], event)
        elif kind in FOLLOWUP_EVENTS:
            case_id = getattr(event, "case_id", None)
            if case_id:
                self._add(conn, seq, case_id, env.agency, env, FOLLOWUP_EVENTS[kind], event)
        elif isinstance(event, EscalationTriggered):
            link = {"escalation_id": env.subject, "case_id": event.case_id, "agency": env.agency}
            conn.execute(LINK_INSERT, link)
            self._add(conn, seq, event.case_id, env.agency, env, "escalation_triggered", event)
        elif kind in ESCALATION_EVENTS:
            found = conn.execute(LINK_OF, {"eid": env.subject}).first()
            if found is not None:
                self._add(conn, seq, found.case_id, found.agency, env, ESCALATION_EVENTS[kind], event)

    def _add(
        self, conn: Connection, seq: int, case_id: str, agency: str, env: Envelope, what: str, event: Event
    ) -> None:
        entry = {
            "seq": seq,
            "case_id": case_id,
            "agency": agency,
            "at": env.time,
            "what": what,
            "peer_ref": getattr(event, "peer_ref", None),
            "detail": _detail(event),
        }
        later(conn, ENTRY_INSERT, entry)  # nothing here reads the entries back
