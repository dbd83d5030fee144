"""A peer's load and breaks (the `peer` aggregate, shared with matching's directory events)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from services.wellness.domain.common import Rejected
from services.wellness.domain.policy import AgencyPolicy
from shared.contracts.base import Event
from shared.contracts.wellness import (
    PeerBreakEnded,
    PeerBreakRequested,
    PeerOverloaded,
    PeerRecovered,
)

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
