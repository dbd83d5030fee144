"""One CAD update as intake decides on it (`Incident`), and Peerline's webhook for CADs without EIDO.

Both formats (the EIDO reader is `eido.py` / `reader.py`) become one `Incident`. People of the public
are read for age and condition only, to derive trigger flags in memory; no identifier, name or note of
theirs is kept. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.policy import Flag
from shared.contracts.intake import CadRole

Id = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(max_length=256)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


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
    deceased: list[Id] = Field(default=[], max_length=50, description="crew CAD marks deceased")
    victims: list[WebhookVictim] = Field(default=[], max_length=1000)


@dataclass(frozen=True)
class Person:
    """Someone of an agency on the incident, by CAD id (mapped to a member_ref by the roster)."""

    cad_id: str
    role: CadRole
    unit: str | None = None
    organization: str | None = None  # the EIDO organization of their agency; None = the publisher's
    deceased: bool = False


@dataclass(frozen=True)
class Incident:
    tracking_id: str
    types: tuple[str, ...]  # lower-case: registry text(s) first (the coded type), internal code, text
    priority: int | None
    occurred_at: datetime | None
    organizations: tuple[str, ...]  # agencies the document names (EIDO organization ids)
    people: tuple[Person, ...]
    stated_flags: frozenset[str]
    responder_conditions: tuple[str, ...]
    victims: tuple[tuple[int | None, str], ...]  # (age, condition); kept in memory only
    statuses: tuple[str, ...] = ()  # lower-case status values (internal text and registry text)


def from_webhook(hook: WebhookIncident) -> Incident:
    people: dict[str, Person] = {}
    for u in hook.units:
        for c in u.crew:
            people[c] = Person(c, "responder", u.unit)
    for c in hook.call_takers:
        people[c] = Person(c, "call_taker")
    for c in hook.dispatchers:
        people[c] = Person(c, "dispatcher")
    dead = set(hook.deceased)
    people = {c: replace(p, deceased=c in dead) for c, p in people.items()}
    return Incident(
        tracking_id=hook.incident_id,
        types=(hook.type.strip().lower(),),
        priority=hook.priority,
        occurred_at=hook.occurred_at,
        organizations=(),
        people=tuple(people.values()),
        stated_flags=frozenset(hook.flags),
        responder_conditions=(*hook.responder_conditions, *(["deceased"] if dead else [])),
        victims=tuple((v.age, v.condition) for v in hook.victims),
    )
