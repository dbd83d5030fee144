"""What dispatch sends: a NENA EIDO (STA-021) JSON subset, or Peerline's small webhook JSON.

Both parse to one `Incident`. Fields outside the subset are ignored, so full EIDO documents are fine.
People of the public (`personComponent`, webhook `victims`) are read for age and condition only, to
derive trigger flags in memory; no identifier, name or note of theirs is kept. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.intake.policy import Flag
from shared.contracts.intake import CadRole

Id = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(max_length=256)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EidoIncident(_Tolerant):
    incidentTrackingIdentifier: Id
    incidentTypeCommonRegistryText: Text | list[Text]
    incidentTypeInternalCode: Text | None = None
    incidentTypeInternalText: Text | None = None
    incidentCommonPriorityNumber: int | None = Field(default=None, ge=0, le=99)
    incidentCreationTimestamp: datetime | None = None
    lastUpdateTimestamp: datetime | None = None


class EidoAgency(_Tolerant):
    agencyIdentifier: Id
    agencyTypeCommonRegistryText: Text | None = None


class EidoResource(_Tolerant):
    emergencyResourceIdentifier: Id | None = None
    emergencyResourceName: Text | None = None
    agencyReference: Id | None = None
    agentReference: list[Id] = Field(default=[], max_length=200)


class EidoAgent(_Tolerant):
    agentIdentifier: Id
    agentRoleRegistryText: Text | None = None
    agencyReference: Id | None = None
    agentConditionRegistryText: Text | None = Field(
        default=None, description="the responder's own condition, when CAD records it (e.g. Deceased)"
    )


class EidoPerson(_Tolerant):
    personRoleRegistryText: Text | None = None
    personAgeNumber: int | None = Field(default=None, ge=0, le=130)
    personBirthDate: date | None = None
    personConditionRegistryText: Text | None = None


class EidoDocument(_Tolerant):
    """The EIDO subset Peerline reads (see docs/cad.md)."""

    incidentComponent: EidoIncident
    agencyComponent: list[EidoAgency] = Field(default=[], max_length=50)
    emergencyResourceComponent: list[EidoResource] = Field(default=[], max_length=200)
    agentComponent: list[EidoAgent] = Field(default=[], max_length=1000)
    personComponent: list[EidoPerson] = Field(default=[], max_length=1000)


Condition = Literal["uninjured", "injured", "serious", "critical", "deceased", "resuscitation_failed"]


class WebhookUnit(_Tolerant):
    unit: Text
    crew: list[Id] = Field(default=[], max_length=50)


class WebhookVictim(_Tolerant):
    age: int | None = Field(default=None, ge=0, le=130)
    condition: Condition = "injured"


class WebhookIncident(_Tolerant):
    """Peerline's webhook for CADs without EIDO: ids are the CAD's own, mapped by the roster."""

    format: Literal["peerline-webhook/1"]
    incident_id: Id
    type: Text
    priority: int | None = Field(default=None, ge=0, le=99)
    occurred_at: datetime | None = None
    units: list[WebhookUnit] = Field(default=[], max_length=200)
    call_takers: list[Id] = Field(default=[], max_length=50)
    dispatchers: list[Id] = Field(default=[], max_length=50)
    flags: list[Flag] = Field(default=[], description="flags CAD already knows, e.g. mayday")
    responder_conditions: list[Condition] = Field(default=[], description="conditions of responders")
    victims: list[WebhookVictim] = Field(default=[], max_length=1000)


@dataclass(frozen=True)
class Person:
    """Someone of the agency on the incident, by CAD id (mapped to a member_ref by the roster)."""

    cad_id: str
    role: CadRole
    unit: str | None = None
    cad_agency: str | None = None


@dataclass(frozen=True)
class Incident:
    tracking_id: str
    types: tuple[str, ...]
    priority: int | None
    occurred_at: datetime | None
    cad_agencies: tuple[str, ...]
    people: tuple[Person, ...]
    stated_flags: frozenset[str]
    responder_conditions: tuple[str, ...]
    victims: tuple[tuple[int | None, str], ...]  # (age, condition); kept in memory only


def _role(text: str | None) -> CadRole:
    t = (text or "").lower().replace("-", " ").replace("_", " ")
    if "call taker" in t or "calltaker" in t or "telecommunicator" in t:
        return "call_taker"
    if "dispatch" in t:
        return "dispatcher"
    return "responder"


def _condition(text: str | None) -> str:
    t = (text or "").lower()
    for word, cond in (
        ("resusc", "resuscitation_failed"),
        ("deceased", "deceased"),
        ("dead", "deceased"),
        ("critical", "critical"),
        ("serious", "serious"),
        ("uninjured", "uninjured"),
        ("injur", "injured"),
    ):
        if word in t:
            return cond
    return "uninjured"


def _age(p: EidoPerson, when: datetime | None) -> int | None:
    if p.personAgeNumber is not None:
        return p.personAgeNumber
    if p.personBirthDate is not None and when is not None:
        d = when.date()
        b = p.personBirthDate
        return d.year - b.year - ((d.month, d.day) < (b.month, b.day))
    return None


def from_eido(doc: EidoDocument) -> Incident:
    inc = doc.incidentComponent
    registry = inc.incidentTypeCommonRegistryText
    types = [*(registry if isinstance(registry, list) else [registry])]
    types += [t for t in (inc.incidentTypeInternalCode, inc.incidentTypeInternalText) if t]
    agents = {a.agentIdentifier: a for a in doc.agentComponent}
    people: dict[str, Person] = {}
    for res in doc.emergencyResourceComponent:
        for ref in res.agentReference:
            agent = agents.get(ref)
            agency = (agent.agencyReference if agent else None) or res.agencyReference
            people[ref] = Person(ref, "responder", res.emergencyResourceName, agency)
    for a in doc.agentComponent:
        if a.agentIdentifier not in people or _role(a.agentRoleRegistryText) != "responder":
            unit = people[a.agentIdentifier].unit if a.agentIdentifier in people else None
            people[a.agentIdentifier] = Person(
                a.agentIdentifier, _role(a.agentRoleRegistryText), unit, a.agencyReference
            )
    when = inc.incidentCreationTimestamp or inc.lastUpdateTimestamp
    return Incident(
        tracking_id=inc.incidentTrackingIdentifier,
        types=tuple(t.strip().lower() for t in types),
        priority=inc.incidentCommonPriorityNumber,
        occurred_at=inc.incidentCreationTimestamp,
        cad_agencies=tuple(a.agencyIdentifier for a in doc.agencyComponent),
        people=tuple(people.values()),
        stated_flags=frozenset(),
        responder_conditions=tuple(
            _condition(a.agentConditionRegistryText)
            for a in doc.agentComponent
            if a.agentConditionRegistryText
        ),
        victims=tuple(
            (_age(p, when), _condition(p.personConditionRegistryText))
            for p in doc.personComponent
            if (p.personRoleRegistryText or "victim").lower() in {"victim", "patient", "decedent"}
        ),
    )


def from_webhook(hook: WebhookIncident) -> Incident:
    people: dict[str, Person] = {}
    for u in hook.units:
        for c in u.crew:
            people[c] = Person(c, "responder", u.unit)
    for c in hook.call_takers:
        people[c] = Person(c, "call_taker")
    for c in hook.dispatchers:
        people[c] = Person(c, "dispatcher")
    return Incident(
        tracking_id=hook.incident_id,
        types=(hook.type.strip().lower(),),
        priority=hook.priority,
        occurred_at=hook.occurred_at,
        cad_agencies=(),
        people=tuple(people.values()),
        stated_flags=frozenset(hook.flags),
        responder_conditions=tuple(hook.responder_conditions),
        victims=tuple((v.age, v.condition) for v in hook.victims),
    )


def parse(raw: bytes) -> Incident:
    """Either format, told apart by the webhook's `format` field. Raises ValueError (incl. pydantic's)."""
    data = json.loads(raw)
    if isinstance(data, dict) and "format" in data and "incidentComponent" not in data:
        return from_webhook(WebhookIncident.model_validate(data))
    return from_eido(EidoDocument.model_validate(data))


def normalize(doc: EidoDocument | WebhookIncident) -> Incident:
    return from_webhook(doc) if isinstance(doc, WebhookIncident) else from_eido(doc)
