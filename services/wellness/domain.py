"""Wellness rules. Pure: plain data and times in, events out, every decision explained.

Four small aggregates: a peer's load and breaks (`peer`, shared with matching's directory events),
one follow-up (`followup`), one debrief offer to one person for one incident (`debrief`), and one
responder's cumulative exposure (`exposure`). Their ids are derived deterministically, so a second
decision for the same thing meets an existing aggregate and produces nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from services.wellness.policy import FLAG_ORDER, AgencyPolicy, OfferRule
from shared.contracts.base import Event
from shared.contracts.intake import IncidentFlags, Involved
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    DebriefOffered,
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


class Rejected(Exception):
    """The command cannot be carried out in the aggregate's current state."""


def _key(prefix: str, *parts: str) -> str:
    return f"{prefix}-{hashlib.sha256('/'.join(parts).encode()).hexdigest()[:32]}"


def followup_id(case_id: str, n: int) -> str:
    return _key("f", case_id, str(n))


def debrief_id(incident_agency: str, incident_id: str, member_ref: str) -> str:
    return _key("d", incident_agency, incident_id, member_ref)


def exposure_id(member_ref: str) -> str:
    return _key("x", member_ref)


# --- peer load and breaks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    active_cases: int = 0
    contacts_7d: int = 0
    personal_incidents: int = 0


@dataclass(frozen=True)
class PeerState:
    overloaded: bool = False
    overloaded_at: datetime | None = None
    on_break: bool = False
    break_until: datetime | None = None


def evolve_peer(state: PeerState, event: Event, at: datetime) -> PeerState:
    match event:
        case PeerOverloaded():
            return replace(state, overloaded=True, overloaded_at=at)
        case PeerRecovered():
            return replace(state, overloaded=False, overloaded_at=None)
        case PeerBreakRequested():
            until = datetime.fromisoformat(event.until) if event.until else None
            return replace(state, on_break=True, break_until=until)
        case PeerBreakEnded():
            return replace(state, on_break=False, break_until=None)
    return state


def over_threshold(load: Load, policy: AgencyPolicy) -> list[str]:
    """Why the load is too high (empty: it is not). Coded reasons, shown to the peer and coordinator."""
    reasons = []
    if load.active_cases >= policy.max_active_cases:
        reasons.append(f"active_cases {load.active_cases} >= {policy.max_active_cases}")
    if load.contacts_7d >= policy.max_contacts_7d:
        reasons.append(f"contacts_7d {load.contacts_7d} >= {policy.max_contacts_7d}")
    if load.personal_incidents >= policy.max_personal_incidents:
        days = policy.personal_incident_window.days
        reasons.append(
            f"personal_incidents_{days}d {load.personal_incidents} >= {policy.max_personal_incidents}"
        )
    return reasons


def recovers_at(state: PeerState, policy: AgencyPolicy) -> datetime | None:
    return state.overloaded_at + policy.cool_down if state.overloaded_at else None


def decide_load(state: PeerState, load: Load, policy: AgencyPolicy, now: datetime) -> list[Event]:
    """Overloaded as soon as a threshold is reached; recovered once under every threshold AND the
    cool-down since overloading has passed."""
    reasons = over_threshold(load, policy)
    if not state.overloaded:
        return [PeerOverloaded(reasons=tuple(reasons))] if reasons else []
    until = recovers_at(state, policy)
    if not reasons and (until is None or now >= until):
        return [PeerRecovered()]
    return []


@dataclass(frozen=True)
class Explanation:
    status: Literal["available", "overloaded", "on_break"]
    reasons: list[str]
    cool_down_until: datetime | None
    break_until: datetime | None


def explain(state: PeerState, load: Load, policy: AgencyPolicy) -> Explanation:
    reasons = over_threshold(load, policy)
    if state.overloaded and not reasons:
        reasons = ["under every threshold again; waiting for the cool-down to pass"]
    status: Literal["available", "overloaded", "on_break"] = "available"
    if state.overloaded:
        status = "overloaded"
    if state.on_break:
        status = "on_break"
        reasons = [*reasons, "break requested by the peer"]
    return Explanation(status, reasons, recovers_at(state, policy), state.break_until)


def request_break(state: PeerState, until: datetime | None, now: datetime) -> list[Event]:
    if state.on_break:
        raise Rejected("already on a break")
    if until is not None and until <= now:
        raise Rejected("until must be in the future")
    return [PeerBreakRequested(until=until.isoformat() if until else None)]


def end_break(state: PeerState) -> list[Event]:
    if not state.on_break:
        raise Rejected("not on a break")
    return [PeerBreakEnded()]


def break_expired(state: PeerState, now: datetime) -> list[Event]:
    if state.on_break and state.break_until is not None and now >= state.break_until:
        return [PeerBreakEnded()]
    return []


# --- follow-ups ----------------------------------------------------------------------------------

FollowupStatus = Literal["none", "scheduled", "due", "overdue", "completed"]


@dataclass(frozen=True)
class Followup:
    status: FollowupStatus = "none"
    case_id: str = ""
    peer_ref: str = ""
    due_at: datetime | None = None


def evolve_followup(state: Followup, event: Event) -> Followup:
    match event:
        case FollowupScheduled():
            due_at = datetime.fromisoformat(event.due_at)
            return Followup("scheduled", event.case_id, event.peer_ref, due_at)
        case FollowupDue():
            return replace(state, status="due")
        case FollowupOverdue():
            return replace(state, status="overdue")
        case FollowupCompleted():
            return replace(state, status="completed")
    return state


def plan_followups(
    case_id: str, peer_ref: str, contact_at: datetime, policy: AgencyPolicy
) -> list[tuple[str, FollowupScheduled]]:
    """(followup id, event) per follow-up the agency's schedule asks for after an initial contact."""
    return [
        (
            followup_id(case_id, n),
            FollowupScheduled(
                case_id=case_id, peer_ref=peer_ref, due_at=(contact_at + after).isoformat(), n=n
            ),
        )
        for n, after in enumerate(policy.followup_after, start=1)
    ]


def decide_due(state: Followup, now: datetime) -> list[Event]:
    if state.status != "scheduled" or state.due_at is None or now < state.due_at:
        return []
    return [FollowupDue(case_id=state.case_id, peer_ref=state.peer_ref)]


def decide_overdue(state: Followup, now: datetime, grace: timedelta) -> list[Event]:
    """Not completed within the grace period after it fell due. Falls due on the way if it has not."""
    if state.due_at is None or now < state.due_at + grace:
        return []
    overdue = FollowupOverdue(case_id=state.case_id, peer_ref=state.peer_ref)
    if state.status == "scheduled":
        return [*decide_due(state, now), overdue]
    return [overdue] if state.status == "due" else []


def complete_followup(state: Followup, peer_ref: str) -> list[Event]:
    if state.status == "none":
        raise Rejected("no such follow-up")
    if state.peer_ref != peer_ref:
        raise Rejected("not your follow-up")
    if state.status == "completed":
        raise Rejected("already completed")
    return [FollowupCompleted(case_id=state.case_id)]


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
    occurred_at: datetime,
    flags: IncidentFlags,
    person: Involved,
    policy: AgencyPolicy,
) -> list[Event]:
    """One voluntary offer per person per incident: an existing offer means nothing more to do."""
    if state.status != "none":
        return []
    rule = rule_for(flags, policy)
    return [
        DebriefOffered(
            incident_id=incident_id,
            incident_agency=incident_agency,
            member_ref=person.member_ref,
            role=person.role,
            offer_type=rule.offer_type,
            window_opens=(occurred_at + rule.opens_after).isoformat(),
            window_closes=(occurred_at + rule.closes_after).isoformat(),
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
