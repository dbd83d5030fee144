"""A CAD document (EIDO or webhook, told apart by the webhook's `format`) → one `Incident`. Pure.

Raises `pydantic.ValidationError` for a field Peerline reads in the wrong shape, `eido.EidoInvalid`
for a document that breaks the published schema or does not hold together (a dangling reference, no
incident identifier) and `json.JSONDecodeError` for bytes that are not JSON: each names the path, never
the value.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.intake.domain import niem
from services.intake.domain.cad import Incident, Person, WebhookIncident, from_webhook
from services.intake.domain.eido import Component, EidoAgency, EidoDocument, EidoInvalid, Index
from services.intake.domain.eido_schema import check_structure
from shared.contracts.intake import CadRole

# NENA registry values (compared lower-case, also accepting the older wording) → Peerline's CAD roles
CALL_TAKING = {"call taking", "call taker", "calltaker", "telecommunicator"}
DISPATCHING = {"dispatching", "dispatcher", "dispatch"}
VICTIM_ROLES = {"victim", "patient", "decedent", "casualty", "injured party"}


def role(values: list[str]) -> CadRole:
    lowered = {v.strip().lower().replace("-", " ").replace("_", " ") for v in values}
    if lowered & CALL_TAKING:
        return "call_taker"
    if lowered & DISPATCHING:
        return "dispatcher"
    return "responder"


def tracking_id(doc: EidoDocument) -> str:
    found = [doc.incidentTrackingIdentifier, *(i.incidentTrackingIdentifier for i in doc.incidentComponent)]
    for value in (*found, doc.id):
        if value:
            return value
    raise EidoInvalid(("incidentTrackingIdentifier",), "required (or an incident component's, or `$id`)")


def _organization(agency: EidoAgency | Component) -> str | None:
    named = agency.organizationIdentification if isinstance(agency, EidoAgency) else None
    return named or agency.id


def _people(doc: EidoDocument, index: Index) -> tuple[Person, ...]:
    people: dict[str, Person] = {}
    for i, agent in enumerate(doc.agentComponent):
        cad_id = agent.agentIdentification or agent.id
        if cad_id is None:
            continue  # an agent nobody could be on the roster as
        org = None
        if agent.agencyReference is not None:
            loc: tuple[str | int, ...] = ("agentComponent", i, "agencyReference")
            org = _organization(index.follow(agent.agencyReference, "agencyComponent", loc))
        dead = niem.condition_of(agent.agentConditionRegistryText) == "deceased"
        person = Person(cad_id, role(agent.agentRoleRegistryText), None, org, dead)
        people.setdefault(agent.id or cad_id, person)
    for r, resource in enumerate(doc.emergencyResourceComponent):
        for k, ref in enumerate(resource.agentReference):
            loc = ("emergencyResourceComponent", r, "agentReference", k)
            key = index.follow(ref, "agentComponent", loc).id or ""
            if key in people and people[key].unit is None:
                people[key] = replace(people[key], unit=resource.emergencyResourceName)
    return tuple(people.values())


def from_eido(doc: EidoDocument) -> Incident:
    index = Index(doc)
    types: list[str] = []
    statuses: list[str] = []
    for inc in doc.incidentComponent:
        types += [*inc.incidentTypeCommonRegistryText]
    for inc in doc.incidentComponent:
        types += [t for t in (inc.incidentTypeInternalCode, inc.incidentTypeInternalText) if t]
        statuses += [*inc.incidentStatusInternalText, *inc.incidentStatusCommonRegistryText]
    priorities = [i.incidentCommonPriorityNumber for i in doc.incidentComponent]
    occurred = _occurred(doc)
    on = occurred.date() if occurred else None
    victims = tuple(
        (niem.age(p.ncPersonComponent, on), niem.condition(p.ncPersonComponent))
        for p in doc.personComponent
        if {r.strip().lower() for r in p.personIncidentRoleRegistryText} & VICTIM_ROLES
    )
    people = _people(doc, index)
    return Incident(
        tracking_id=tracking_id(doc),
        types=tuple(dict.fromkeys(t.strip().lower() for t in types if t.strip())),
        priority=next((p for p in priorities if p is not None), None),
        occurred_at=occurred,
        organizations=tuple(o for o in (_organization(a) for a in doc.agencyComponent) if o),
        people=people,
        stated_flags=frozenset(),
        responder_conditions=tuple("deceased" for p in people if p.deceased),
        victims=victims,
        statuses=tuple(dict.fromkeys(s.strip().lower() for s in statuses if s.strip())),
    )


def _occurred(doc: EidoDocument) -> datetime | None:
    for inc in doc.incidentComponent:
        if inc.incidentCreationTimestamp or inc.lastUpdateTimeStamp:
            return inc.incidentCreationTimestamp or inc.lastUpdateTimeStamp
    return doc.lastUpdateTimeStamp


def read(data: Any) -> Incident:
    """Either format from parsed JSON."""
    if isinstance(data, dict) and "format" in data and "incidentComponent" not in data:
        return from_webhook(WebhookIncident.model_validate(data))
    doc = EidoDocument.model_validate(data)  # the fields Peerline reads, each named if wrong
    check_structure(data)  # then the rest of the document against the published schema
    return from_eido(doc)


def parse(raw: bytes) -> Incident:
    return read(json.loads(raw))
