"""The parts of a NENA EIDO (STA-021) JSON document Peerline reads, as CADs send them (`reader.py`
turns them into one `Incident`). Pure: no I/O.

Components are arrays (a single object is taken as an array of one) that point at each other with
`{"$ref": "<$id>"}`; registry values are arrays of strings (one string is taken as one value). Only
the fields below are read; every other field of the standard (names, phones, locations, notes,
additional data…) is ignored and never kept. A reference Peerline follows that names no component of
the right kind is rejected with the path of the reference (never its value).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=256)]
Text = Annotated[str, Field(max_length=256)]


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _one_or_many(item: Any) -> BeforeValidator:
    """An array as the standard writes it; a single value is taken as an array of one."""
    return BeforeValidator(_as_list, json_schema_input_type=item | list[item])


Texts = Annotated[list[Text], _one_or_many(Text)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Ref(_Tolerant):
    """`{"$ref": "<$id of another component>"}`."""

    ref: Id = Field(alias="$ref")


Refs = Annotated[list[Ref], _one_or_many(Ref)]


class Component(_Tolerant):
    id: Id | None = Field(default=None, alias="$id", description="the component's id, as others refer to it")


class EidoIncident(Component):
    lastUpdateTimeStamp: datetime | None = None
    incidentTrackingIdentifier: Id | None = None
    incidentTypeCommonRegistryText: Texts = Field(description="required by the standard")
    incidentTypeInternalCode: Text | None = None
    incidentTypeInternalText: Text | None = None
    incidentStatusInternalText: Texts = Field(default=[], max_length=50)
    incidentStatusCommonRegistryText: Texts = Field(default=[], max_length=50)
    incidentCommonPriorityNumber: int | None = Field(default=None, ge=0, le=99)
    incidentCreationTimestamp: datetime | None = Field(default=None, description="read when a CAD sends it")


class EidoAgency(Component):
    organizationIdentification: Id | None = Field(
        default=None, description="the agency's id (its `$id` when absent), mapped by configuration"
    )


class EidoAgent(Component):
    agentIdentification: Id | None = Field(default=None, description="the agent's id (else its `$id`)")
    agentRoleRegistryText: Texts = Field(default=[], max_length=20)
    agencyReference: Ref | None = None
    agentConditionRegistryText: Text | None = Field(
        default=None, description="Peerline extension: the responder's own condition (e.g. Deceased)"
    )


class EidoResource(Component):
    emergencyResourceName: Text | None = None
    agentReference: Refs = Field(default=[], max_length=200)


class EidoPerson(Component):
    personIncidentRoleRegistryText: Texts = Field(default=[], max_length=20)
    ncPersonComponent: dict[str, Any] = Field(
        default={},
        description="NIEM person: only ageMeasure, birthDate, isLiving, deathDate, injury, "
        "medicalCondition are read (in memory, for trigger flags)",
    )


Incidents = Annotated[list[EidoIncident], _one_or_many(EidoIncident)]
Agencies = Annotated[list[EidoAgency], _one_or_many(EidoAgency)]
Agents = Annotated[list[EidoAgent], _one_or_many(EidoAgent)]
Resources = Annotated[list[EidoResource], _one_or_many(EidoResource)]
Persons = Annotated[list[EidoPerson], _one_or_many(EidoPerson)]


class EidoDocument(_Tolerant):
    """The parts of a NENA EIDO document Peerline reads (docs/cad.md)."""

    id: Id | None = Field(default=None, alias="$id")
    incidentTrackingIdentifier: Id | None = Field(
        default=None, description="else the incident component's, else the document's `$id`"
    )
    lastUpdateTimeStamp: datetime | None = None
    incidentComponent: Incidents = Field(default=[], max_length=20)
    agencyComponent: Agencies = Field(default=[], max_length=50)
    agentComponent: Agents = Field(default=[], max_length=1000)
    emergencyResourceComponent: Resources = Field(default=[], max_length=200)
    personComponent: Persons = Field(default=[], max_length=1000)


class EidoInvalid(ValueError):
    """A document that validates field by field but not as a whole (e.g. a dangling reference)."""

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(f"{'.'.join(str(p) for p in loc)}: {msg}")
        self.loc, self.msg = loc, msg

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": list(self.loc), "msg": self.msg, "type": "eido"}]


class Index:
    """Components by `$id`, for following references."""

    def __init__(self, doc: EidoDocument) -> None:
        self.by_id: dict[str, tuple[str, Component]] = {}
        for kind in ("agencyComponent", "agentComponent", "emergencyResourceComponent", "personComponent"):
            for c in getattr(doc, kind):
                if c.id is not None:
                    self.by_id.setdefault(c.id, (kind, c))

    def follow(self, ref: Ref, kind: str, loc: tuple[str | int, ...]) -> Component:
        found = self.by_id.get(ref.ref)
        if found is None or found[0] != kind:
            raise EidoInvalid(loc, f"names no component of {kind} (no such $id in the document)")
        return found[1]
