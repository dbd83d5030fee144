"""Wellness's read model: peers' load inputs, follow-ups, offers, exposure — and its durable timers.

Timers are scheduled here, in the same transaction as the view, and cancelled only when the event
that settles them arrives; so a rebuilt view holds exactly the timers the live one does:
- `followup_due` / `followup_overdue` at the follow-up's due time (+ grace);
- `offer` and `lodd_alert` per critical incident (`incidents.py`);
- `plan` (due at once) per case's first initial contact, settled by its first `followup_scheduled`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from services.wellness.domain.policy import Policies
from services.wellness.projection.incidents import NOW, IncidentView
from services.wellness.reactions import FOLLOWUP_DUE, FOLLOWUP_OVERDUE, PLAN
from services.wellness.tables import metadata, timers
from services.wellness.tables import statements as q
from shared.contracts.base import Event
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlagsRaised,
    IncidentRespondersAdded,
    RequestCancelled,
)
from shared.contracts.matching import (
    AssignmentDeclined,
    AssignmentExpired,
    PeerActivated,
    PeerApplied,
    PeerAssigned,
    PeerEnrolled,
)
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    ExposureCheckinOffered,
    FollowupCompleted,
    FollowupDue,
    FollowupOverdue,
    FollowupScheduled,
    PeerBreakEnded,
    PeerBreakRequested,
    PeerOverloaded,
    PeerRecovered,
)
from shared.envelope import Envelope
from shared.projection import later, unhandled
from shared.timers import Timer, cancel, schedule
from shared.topology import consumer


def _time(value: str | None, fallback: datetime) -> datetime:
    if not value:
        return fallback
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


LOAD_INPUTS = (
    PeerEnrolled,
    PeerAssigned,
    AssignmentDeclined,
    AssignmentExpired,
    CaseClosed,
    RequestCancelled,
    ContactLogged,
    CriticalIncidentReported,
    IncidentRespondersAdded,
)

SCHEDULES = (
    CriticalIncidentReported,
    IncidentRespondersAdded,
    IncidentFlagsRaised,
    ContactLogged,
    FollowupScheduled,
)
"""Events whose applying may schedule a timer (the work loop is woken when a batch holds one)."""


class WellnessProjection:
    name = "wellness-view"
    defers = True  # timers are written once per batch (shared.timers, shared.projection.replace_later)
    # indexes only queries read (apply reads involvements and LODD alerts by incident and member: those stay)
    built_late = (
        "ix_peers_agency",
        "ix_peers_member_ref",
        "ix_assignments_peer_ref",
        "ix_contacts_peer_ref",
        "ix_offers_member_ref",
        "ix_followups_agency",
        "ix_followups_peer_ref",
        "ix_followups_status",
        "ix_exposure_checkins_member_ref",
        "ix_timers_due_at",
    )
    metadata = metadata
    handles = consumer("wellness-view").events

    def __init__(self, policies: Policies | None = None) -> None:
        self.policies = policies or Policies()
        self.incidents = IncidentView()

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if self.incidents.apply(conn, env, event):
            return
        match event:
            case PeerEnrolled() | PeerApplied():  # enrolled at once, or applied → selected → activated
                known = {"p_ref": env.subject, "p_agency": env.agency, "p_member": event.member_ref}
                if not conn.execute(q.PEER_ENROLL, known).rowcount:
                    row = {"peer_ref": env.subject, "agency": env.agency, "member_ref": event.member_ref}
                    conn.execute(q.PEER_INSERT, row)
            case PeerActivated():
                if conn.execute(q.PEER_KNOWN, {"p_ref": env.subject}).first() is None:
                    row = {"peer_ref": env.subject, "agency": env.agency, "member_ref": None}
                    conn.execute(q.PEER_INSERT, row)
            case PeerOverloaded():
                reasons = ";".join(event.reasons)
                conn.execute(
                    q.PEER_OVERLOADED, {"p_ref": env.subject, "p_at": env.time, "p_reasons": reasons}
                )
            case PeerRecovered():
                conn.execute(q.PEER_RECOVERED, {"p_ref": env.subject})
            case PeerBreakRequested():
                until = _time(event.until, env.time) if event.until else None
                conn.execute(q.PEER_BREAK, {"p_ref": env.subject, "p_until": until})
            case PeerBreakEnded():
                conn.execute(q.PEER_BREAK_ENDED, {"p_ref": env.subject})
            case PeerAssigned():
                conn.execute(q.ASSIGNMENT_DELETE, {"c_id": env.subject})
                conn.execute(q.ASSIGNMENT_INSERT, {"case_id": env.subject, "peer_ref": event.peer_ref})
            case AssignmentDeclined() | AssignmentExpired() | CaseClosed() | RequestCancelled():
                conn.execute(q.ASSIGNMENT_DELETE, {"c_id": env.subject})
            case ContactLogged():
                later(conn, q.CONTACT_INSERT, {"seq": seq, "peer_ref": event.peer_ref, "at": env.time})
                if event.initial:
                    self._plan(conn, env)
            case DebriefAccepted() | DebriefDeclined():
                answer = "accepted" if isinstance(event, DebriefAccepted) else "declined"
                conn.execute(q.OFFER_ANSWER, {"o_id": env.subject, "o_status": answer})
            case FollowupScheduled():
                self._scheduled(conn, env, event)
            case FollowupDue():
                self._followup(conn, env.subject, "due")
                cancel(conn, timers, f"due:{env.subject}")
            case FollowupOverdue():
                self._followup(conn, env.subject, "overdue")
                cancel(conn, timers, f"overdue:{env.subject}")
            case FollowupCompleted():
                self._followup(conn, env.subject, "completed")
                cancel(conn, timers, f"due:{env.subject}")
                cancel(conn, timers, f"overdue:{env.subject}")
            case ExposureCheckinOffered():
                checkin: dict[str, object] = {
                    "seq": seq,
                    "agency": env.agency,
                    "member_ref": event.member_ref,
                    "incidents_in_window": event.incidents_in_window,
                    "window_days": event.window_days,
                    "offered_at": env.time,
                }
                later(conn, q.CHECKIN_INSERT, checkin)
            case _:
                unhandled(event)

    def _plan(self, conn: Connection, env: Envelope) -> None:
        if conn.execute(q.PLANNED, {"c_id": env.subject}).first():
            return  # a case's follow-ups are planned once, after its first initial contact
        conn.execute(q.PLANNED_INSERT, {"case_id": env.subject, "agency": env.agency})
        if self.policies.of(env.agency).followup_after:
            data = {"peer_ref": env.data["peer_ref"], "contact_at": env.time.isoformat()}
            schedule(conn, timers, Timer(f"plan:{env.subject}", PLAN, env.agency, env.subject, NOW, data))

    def _scheduled(self, conn: Connection, env: Envelope, event: FollowupScheduled) -> None:
        due_at = _time(event.due_at, env.time)
        row: dict[str, object] = {
            "followup_id": env.subject,
            "agency": env.agency,
            "case_id": event.case_id,
            "peer_ref": event.peer_ref,
            "n": event.n,
            "due_at": due_at,
            "status": "scheduled",
        }
        conn.execute(q.FOLLOWUP_INSERT, row)
        grace = self.policies.of(env.agency).followup_grace
        fid = env.subject
        schedule(conn, timers, Timer(f"due:{fid}", FOLLOWUP_DUE, env.agency, fid, due_at, {}))
        schedule(conn, timers, Timer(f"overdue:{fid}", FOLLOWUP_OVERDUE, env.agency, fid, due_at + grace, {}))
        if event.n == 1:
            cancel(conn, timers, f"plan:{event.case_id}")

    def _followup(self, conn: Connection, followup_id: str, status: str) -> None:
        conn.execute(q.FOLLOWUP_STATUS, {"f_id": followup_id, "f_status": status})
