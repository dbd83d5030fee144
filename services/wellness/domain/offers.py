"""Debrief offers after critical incidents, and cumulative-exposure check-ins."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from services.wellness.domain.common import Rejected
from services.wellness.domain.policy import FLAG_ORDER, AgencyPolicy, OfferRule
from shared.contracts.base import Event
from shared.contracts.intake import IncidentFlags, Involved
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    DebriefOffered,
    ExposureCheckinOffered,
    LineOfDutyDeathAlerted,
)

# --- debrief offers ------------------------------------------------------------------------------

DebriefStatus = Literal["none", "offered", "accepted", "declined"]


@dataclass(frozen=True)
class Debrief:
    status: DebriefStatus = "none"
    member_ref: str = ""
    window_closes: datetime | None = None


def evolve_debrief(state: Debrief, event: Event) -> Debrief:
    match event:
        case DebriefOffered():
            return Debrief("offered", event.member_ref, datetime.fromisoformat(event.window_closes))
        case DebriefAccepted():
            return replace(state, status="accepted")
        case DebriefDeclined():
            return replace(state, status="declined")
    return state


def rule_for(flags: IncidentFlags, policy: AgencyPolicy) -> OfferRule:
    for flag in FLAG_ORDER:
        if getattr(flags, flag) and flag in policy.debrief_rules:
            return policy.debrief_rules[flag]
    return policy.debrief_default


def offer_debrief(
    state: Debrief,
    *,
    incident_agency: str,
    incident_id: str,
    reported_at: datetime,
    flags: IncidentFlags,
    person: Involved,
    policy: AgencyPolicy,
    incident_type: str = "",
    incident_date: date | None = None,
) -> list[Event]:
    """One voluntary offer per person per incident: an existing offer means nothing more to do; none to
    a responder CAD marks deceased. The window counts from when dispatch reported the person (an old
    incident date must not hand out an offer whose window has already closed). The offer names the
    incident by its coded type and date, nothing more."""
    if state.status != "none" or person.deceased:
        return []
    rule = rule_for(flags, policy)
    return [
        DebriefOffered(
            incident_id=incident_id,
            incident_agency=incident_agency,
            member_ref=person.member_ref,
            role=person.role,
            offer_type=rule.offer_type,
            window_opens=(reported_at + rule.opens_after).isoformat(),
            window_closes=(reported_at + rule.closes_after).isoformat(),
            incident_type=incident_type,
            incident_date=incident_date.isoformat() if incident_date else None,
        )
    ]


def alert_line_of_duty_death(
    *, incident_agency: str, incident_id: str, incident_type: str, incident_date: date | None, deceased: int
) -> list[Event]:
    """The coordinator's alert, instead of an offer to the dead (one per incident and agency: the
    aggregate id says so)."""
    return [
        LineOfDutyDeathAlerted(
            incident_id=incident_id,
            incident_agency=incident_agency,
            incident_type=incident_type,
            incident_date=incident_date.isoformat() if incident_date else None,
            deceased=deceased,
        )
    ]


def answer_debrief(state: Debrief, member_ref: str, accept: bool, now: datetime) -> list[Event]:
    if state.status == "none" or state.member_ref != member_ref:
        raise Rejected("no such offer for you")
    if state.status != "offered":
        raise Rejected(f"already {state.status}")
    if accept and state.window_closes is not None and now > state.window_closes:
        raise Rejected("the offer's window has closed")
    return [DebriefAccepted() if accept else DebriefDeclined()]


# --- cumulative exposure -------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    last_offered_at: datetime | None = None


def evolve_exposure(state: Exposure, event: Event, at: datetime) -> Exposure:
    return Exposure(at) if isinstance(event, ExposureCheckinOffered) else state


def decide_exposure(
    state: Exposure, member_ref: str, incidents_in_window: int, at: datetime, policy: AgencyPolicy
) -> list[Event]:
    """A check-in when the count reaches the threshold; at most one per window."""
    if incidents_in_window < policy.exposure_threshold:
        return []
    if state.last_offered_at is not None and at - state.last_offered_at < policy.exposure_window:
        return []
    return [
        ExposureCheckinOffered(
            member_ref=member_ref,
            incidents_in_window=incidents_in_window,
            window_days=policy.exposure_window.days,
        )
    ]
