"""Events produced by wellness: peer load and breaks, follow-ups, debrief offers, exposure check-ins."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.contracts.base import AgencyId, Event, event

DebriefType = Literal["defusing", "debrief", "check_in", "psychological_first_aid"]


@event("peer_overloaded", aggregate="peer")
class PeerOverloaded(Event):
    """Over the agency's load threshold: matching stops assigning this peer until recovered."""

    reasons: tuple[str, ...]


@event("peer_recovered", aggregate="peer")
class PeerRecovered(Event):
    pass


@event("peer_break_requested", aggregate="peer")
class PeerBreakRequested(Event):
    until: str | None = None


@event("peer_break_ended", aggregate="peer")
class PeerBreakEnded(Event):
    pass


@event("followup_scheduled", aggregate="followup")
class FollowupScheduled(Event):
    case_id: str
    peer_ref: str
    due_at: str
    n: int = Field(description="which follow-up of the case (1, 2, …)")


@event("followup_due", aggregate="followup")
class FollowupDue(Event):
    case_id: str
    peer_ref: str


@event("followup_completed", aggregate="followup")
class FollowupCompleted(Event):
    case_id: str


@event("followup_overdue", aggregate="followup")
class FollowupOverdue(Event):
    case_id: str
    peer_ref: str


@event("debrief_offered", aggregate="debrief")
class DebriefOffered(Event):
    """A voluntary offer to one person on a critical incident. At most one per person per incident."""

    incident_id: str
    incident_agency: AgencyId
    member_ref: str
    role: str
    offer_type: DebriefType
    window_opens: str = Field(description="ISO time, counted from when dispatch reported the person")
    window_closes: str
    incident_type: str = Field(default="", description="the incident's coded type (CAD registry value)")
    incident_date: str | None = Field(default=None, description="the incident's date (YYYY-MM-DD)")


@event("line_of_duty_death_alerted", aggregate="lodd_alert")
class LineOfDutyDeathAlerted(Event):
    """CAD marks a responder of this agency deceased on a critical incident (or reports a line-of-duty
    death): the agency's coordinator is alerted instead of the deceased being offered a debrief. One per
    incident and agency."""

    incident_id: str
    incident_agency: AgencyId
    incident_type: str = ""
    incident_date: str | None = None
    deceased: int = Field(default=0, description="how many people of this agency CAD marks deceased")


@event("debrief_accepted", aggregate="debrief")
class DebriefAccepted(Event):
    pass


@event("debrief_declined", aggregate="debrief")
class DebriefDeclined(Event):
    pass


@event("exposure_checkin_offered", aggregate="exposure")
class ExposureCheckinOffered(Event):
    """The responder's critical incidents crossed the agency's threshold. Never shown to leadership."""

    member_ref: str
    incidents_in_window: int
    window_days: int
