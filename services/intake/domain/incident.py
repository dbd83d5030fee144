"""Intake's rules for critical incidents from dispatch. Pure: no I/O, no clock.

One incident (agency + CAD tracking id) is one aggregate. The first update that meets the agency's
triggers reports it, whatever earlier updates said; every later update can only add people not named
before and raise flags (or deceased responders) not recorded before. Never a second report; nothing is
ever taken back (an update that no longer names someone changes nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from services.intake.domain.cad import Incident
from services.intake.domain.policy import Triggers
from shared.contracts.base import Event
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlags,
    IncidentFlagsRaised,
    IncidentRespondersAdded,
    Involved,
)

SEVERE = frozenset({"serious", "critical", "deceased", "resuscitation_failed"})
CASUALTY = SEVERE | {"injured"}


def incident_id(agency: str, tracking_id: str) -> str:
    """Deterministic, so every update of one CAD incident lands on one aggregate (and no CAD id shows)."""
    return "i-" + hashlib.sha256(f"{agency}|{tracking_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class IncidentState:
    reported: bool = False
    involved: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    deceased: frozenset[str] = frozenset()


def raised(flags: IncidentFlags) -> frozenset[str]:
    return frozenset(name for name, on in flags.model_dump().items() if on)


def _dead(involved: tuple[Involved, ...]) -> frozenset[str]:
    return frozenset(i.member_ref for i in involved if i.deceased)


def evolve(state: IncidentState, event: Event) -> IncidentState:
    match event:
        case CriticalIncidentReported():
            refs = frozenset(i.member_ref for i in event.involved)
            return IncidentState(True, refs, raised(event.flags), _dead(event.involved))
        case IncidentRespondersAdded():
            refs = state.involved | {i.member_ref for i in event.involved}
            return replace(state, involved=refs, deceased=state.deceased | _dead(event.involved))
        case IncidentFlagsRaised():
            flags = state.flags | raised(event.flags)
            return replace(state, flags=flags, deceased=state.deceased | set(event.deceased))
    return state


def fold(events: list[Event]) -> IncidentState:
    state = IncidentState()
    for e in events:
        state = evolve(state, e)
    return state


def derive_flags(incident: Incident, triggers: Triggers) -> IncidentFlags:
    found: set[str] = set(incident.stated_flags)
    found |= triggers.flags_of(triggers.type_flags, incident.types)
    found |= triggers.flags_of(triggers.status_flags, incident.statuses)
    if "deceased" in incident.responder_conditions:
        found.add("line_of_duty_death")
    if {"serious", "critical"} & set(incident.responder_conditions):
        found.add("serious_injury_to_responder")
    victims = incident.victims
    if any(age is not None and age < triggers.child_under and cond in SEVERE for age, cond in victims):
        found.add("child_victim")
    if any(cond == "resuscitation_failed" for _, cond in victims):
        found.add("failed_resuscitation")
    if sum(1 for _, cond in victims if cond in CASUALTY) >= triggers.mass_casualty_at:
        found.add("mass_casualty")
    return IncidentFlags(**dict.fromkeys(found, True))


def meets_triggers(incident: Incident, flags: IncidentFlags, triggers: Triggers) -> bool:
    if raised(flags) & set(triggers.flags):
        return True
    if {t.lower() for t in triggers.incident_types} & set(incident.types):
        return True
    if {s.lower() for s in triggers.statuses} & set(incident.statuses):
        return True
    p = incident.priority
    if p is not None and triggers.priority_at_most is not None and p <= triggers.priority_at_most:
        return True
    return p is not None and triggers.priority_at_least is not None and p >= triggers.priority_at_least


def unique(involved: tuple[Involved, ...]) -> tuple[Involved, ...]:
    seen: dict[str, Involved] = {}
    for i in involved:
        seen.setdefault(i.member_ref, i)
    return tuple(seen.values())


def decide(
    state: IncidentState,
    incident: Incident,
    involved: tuple[Involved, ...],
    agencies: tuple[str, ...],
    triggers: Triggers,
) -> list[Event]:
    """The events one CAD update produces on the incident aggregate (possibly none)."""
    involved = unique(involved)
    flags = derive_flags(incident, triggers)
    if state.reported:
        return _update(state, involved, flags)
    if not meets_triggers(incident, flags, triggers):
        return []
    return [
        CriticalIncidentReported(
            incident_type=incident.types[0] if incident.types else "unknown",
            priority=incident.priority,
            agencies=agencies,
            flags=flags,
            involved=involved,
            occurred_at=incident.occurred_at.isoformat() if incident.occurred_at else None,
        )
    ]


def _update(state: IncidentState, involved: tuple[Involved, ...], flags: IncidentFlags) -> list[Event]:
    """A later update: people not named before, then flags and deceased responders not recorded before."""
    events: list[Event] = []
    new = tuple(i for i in involved if i.member_ref not in state.involved)
    if new:
        events.append(IncidentRespondersAdded(involved=new))
    more = raised(flags) - state.flags
    dead = tuple(sorted(_dead(involved) - state.deceased - {i.member_ref for i in new}))
    if more or dead:
        events.append(IncidentFlagsRaised(flags=IncidentFlags(**dict.fromkeys(more, True)), deceased=dead))
    return events
