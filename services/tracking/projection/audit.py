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
from shared.contracts.escalation import EscalationAcknowledged, EscalationTierAdvanced, EscalationTriggered
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.contracts.matching import RequestUnmatched
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import FollowupScheduled
from shared.envelope import Envelope
from shared.projection import later, unhandled
from shared.topology import consumer

# What an entry calls an event where that is not the event's own name.
WHAT: dict[type[Event], str] = {
    SupportRequested: "requested",
    RequestUnmatched: "unmatched",
    RequestCancelled: "cancelled",
    ContactLogged: "contact_reported",
    CaseClosed: "closed",
}


def _what(event: Event) -> str:
    return WHAT.get(type(event), event.name)


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
    built_late = ("ix_audit_entries_case_id",)  # read by the coordinators' timeline only
    handles = consumer("tracking-audit").events  # placed on a case's timeline by aggregate

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        match event.aggregate:
            case "case":
                self._add(conn, seq, env.subject, env.agency, env, event)
            case "followup":
                case_id = getattr(event, "case_id", None)
                if case_id:
                    self._add(conn, seq, case_id, env.agency, env, event)
            case "escalation" if isinstance(event, EscalationTriggered):
                link = {"escalation_id": env.subject, "case_id": event.case_id, "agency": env.agency}
                conn.execute(LINK_INSERT, link)
                self._add(conn, seq, event.case_id, env.agency, env, event)
            case "escalation":
                found = conn.execute(LINK_OF, {"eid": env.subject}).first()
                if found is not None:
                    self._add(conn, seq, found.case_id, found.agency, env, event)
            case _:
                unhandled(event)

    def _add(
        self, conn: Connection, seq: int, case_id: str, agency: str, env: Envelope, event: Event
    ) -> None:
        entry = {
            "seq": seq,
            "case_id": case_id,
            "agency": agency,
            "at": env.time,
            "what": _what(event),
            "peer_ref": getattr(event, "peer_ref", None),
            "detail": _detail(event),
        }
        later(conn, ENTRY_INSERT, entry)  # nothing here reads the entries back
