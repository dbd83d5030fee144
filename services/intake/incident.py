"""Intake's rules for critical incidents from dispatch. Pure: no I/O, no clock.

One incident (agency + CAD tracking id) is one aggregate. The first update that meets the agency's
triggers reports it; every later update can only add people not named before. Never a second report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from services.intake.cad import Incident
from services.intake.policy import Triggers
from shared.contracts.base import Event
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlags,
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


def evolve(state: IncidentState, event: Event) -> IncidentState:
    match event:
        case CriticalIncidentReported():
            return IncidentState(True, frozenset(i.member_ref for i in event.involved))
        case IncidentRespondersAdded():
            return replace(state, involved=state.involved | {i.member_ref for i in event.involved})
    return state


def fold(events: list[Event]) -> IncidentState:
    state = IncidentState()
    for e in events:
        state = evolve(state, e)
    return state


def derive_flags(incident: Incident, triggers: Triggers) -> IncidentFlags:
    raised: set[str] = set(incident.stated_flags)
    for t in incident.types:
        raised.update(triggers.type_flags.get(t, ()))
    if "deceased" in incident.responder_conditions:
        raised.add("line_of_duty_death")
    if {"serious", "critical"} & set(incident.responder_conditions):
        raised.add("serious_injury_to_responder")
    victims = incident.victims
    if any(age is not None and age < triggers.child_under and cond in SEVERE for age, cond in victims):
        raised.add("child_victim")
    if any(cond == "resuscitation_failed" for _, cond in victims):
        raised.add("failed_resuscitation")
    if sum(1 for _, cond in victims if cond in CASUALTY) >= triggers.mass_casualty_at:
        raised.add("mass_casualty")
    return IncidentFlags(**dict.fromkeys(raised, True))


def meets_triggers(incident: Incident, flags: IncidentFlags, triggers: Triggers) -> bool:
    raised = {name for name, on in flags.model_dump().items() if on}
    if raised & set(triggers.flags):
        return True
    if {t.lower() for t in triggers.incident_types} & set(incident.types):
        return True
    limit = triggers.priority_at_most
    return limit is not None and incident.priority is not None and incident.priority <= limit


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
    if state.reported:
        new = tuple(i for i in involved if i.member_ref not in state.involved)
        return [IncidentRespondersAdded(involved=new)] if new else []
    flags = derive_flags(incident, triggers)
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
