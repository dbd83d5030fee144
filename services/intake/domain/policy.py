"""Per-agency configuration intake needs: critical-incident triggers, how dispatch names the agency,
the up-front advisement and the crisis lines shown to members.

Loaded from a JSON file (`PEERLINE_AGENCY_POLICY_FILE`): `{"<agency>": {...AgencyPolicy...}}`, with
`"*"` as the default for agencies not listed. Everything here is configuration, not code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.resources import DEFAULT_RESOURCES, Resource

Flag = Literal[
    "line_of_duty_death",
    "serious_injury_to_responder",
    "child_victim",
    "officer_involved_shooting",
    "mass_casualty",
    "mayday",
    "colleague_suicide",
    "victim_known_to_responders",
    "failed_resuscitation",
]
ALL_FLAGS: tuple[Flag, ...] = Flag.__args__  # type: ignore[attr-defined]

# CAD incident-type codes (internal code or common registry text, compared case-insensitively) that
# mean a flag by themselves. Agencies extend this with their own CAD's codes.
DEFAULT_TYPE_FLAGS: dict[str, tuple[Flag, ...]] = {
    "lodd": ("line_of_duty_death",),
    "line of duty death": ("line_of_duty_death",),
    "ff down": ("serious_injury_to_responder",),
    "officer down": ("serious_injury_to_responder",),
    "ois": ("officer_involved_shooting",),
    "officer involved shooting": ("officer_involved_shooting",),
    "mayday": ("mayday",),
    "mci": ("mass_casualty",),
    "mass casualty incident": ("mass_casualty",),
    "employee suicide": ("colleague_suicide",),
}


class Triggers(BaseModel):
    """What makes an incident critical for this agency, on what CADs really send. Codes and texts are
    compared case-insensitively, whole values (no substring guessing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flags: tuple[Flag, ...] = ALL_FLAGS
    incident_types: tuple[str, ...] = Field(
        default=(),
        description="incident types that trigger on their own: registry text, internal code or text",
    )
    statuses: tuple[str, ...] = Field(
        default=(), description="incident status values (internal text or registry text) that trigger"
    )
    priority_at_most: int | None = Field(
        default=None, description="trigger any priority number this low or lower (CADs where 1 = most urgent)"
    )
    priority_at_least: int | None = Field(
        default=None, description="trigger any priority number this high or higher (CADs where high = urgent)"
    )
    type_flags: dict[str, tuple[Flag, ...]] = Field(default_factory=lambda: dict(DEFAULT_TYPE_FLAGS))
    status_flags: dict[str, tuple[Flag, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_TYPE_FLAGS),
        description="incident status value → flags it means (e.g. a CAD's own MAYDAY status code)",
    )
    child_under: int = 18
    mass_casualty_at: int = Field(default=5, description="injured or worse people of the public")

    def flags_of(self, mapping: dict[str, tuple[Flag, ...]], values: tuple[str, ...]) -> set[str]:
        lowered = {k.lower(): v for k, v in mapping.items()}
        return {flag for value in values for flag in lowered.get(value, ())}


class Advisement(BaseModel):
    """What a requester is told before anything else: the three levels and their limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    anonymity: str = (
        "Who you are: you may ask for support without giving your name. If you give it, only the peer"
        " team's vault holds it, encrypted, and it is revealed only in the situations listed below."
    )
    confidentiality: str = (
        "What you say: stays between you and your peer. Peers may consult a colleague or a clinician"
        " without naming you. Records are coded (no names, no notes of what you said)."
    )
    privilege: str = (
        "Legal protection: none is granted by statute in this agency's jurisdiction; a court may order"
        " disclosure."
    )
    limits: tuple[str, ...] = (
        "imminent risk of suicide or self-harm",
        "threat of serious harm to an identifiable person",
        "mandated reporting of child, elder or dependent-adult abuse",
        "a court order or subpoena",
        "your written consent",
    )


class CrisisLine(BaseModel):
    """A line a member can call or text at any hour, shown at every step of their case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=80)
    call: str | None = Field(default=None, max_length=32)
    text: str | None = Field(default=None, max_length=32)
    hours: str = Field(default="24/7", max_length=40)


# US lines every agency may rely on; an agency lists its own (EAP, chaplain, clinician on call) first.
DEFAULT_CRISIS_LINES: tuple[CrisisLine, ...] = (
    CrisisLine(name="988 Suicide & Crisis Lifeline", call="988", text="988"),
    CrisisLine(name="Safe Call Now (first responders)", call="+1-206-459-3020"),
    CrisisLine(name="Crisis Text Line", text="741741"),
)


class AgencyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    triggers: Triggers = Triggers()
    advisement: Advisement = Advisement()
    organizations: tuple[str, ...] = Field(
        default=(),
        description=(
            "EIDO `organizationIdentification` values (or agency `$id`s) that are this agency's own,"
            " e.g. `fire.riverton.example.gov`; the agency's Peerline id always counts too"
        ),
    )
    serves: tuple[str, ...] = Field(
        default=(),
        description=(
            "for a dispatch centre: the Peerline agencies its CAD credential dispatches for (its agents"
            " are resolved among these and the centre itself; agents of any other agency are ignored)"
        ),
    )
    crisis_lines: tuple[CrisisLine, ...] = DEFAULT_CRISIS_LINES
    resources: tuple[Resource, ...] = Field(default=DEFAULT_RESOURCES, max_length=64)


class Policies:
    def __init__(self, by_agency: dict[str, AgencyPolicy] | None = None) -> None:
        self.by_agency = by_agency or {}

    def of(self, agency: str) -> AgencyPolicy:
        return self.by_agency.get(agency) or self.by_agency.get("*") or AgencyPolicy()

    def agency_of(self, publisher: str, organization: str | None) -> str | None:
        """The Peerline agency an EIDO organization identifier names, among those the publisher's
        credential serves (itself and its `serves`); None when it names none of them. No organization
        (an agent without agency) means the publisher itself."""
        if organization is None:
            return publisher
        org = organization.strip().lower()
        for agency in (publisher, *self.of(publisher).serves):
            own = self.by_agency.get(agency)
            if org == agency or (own is not None and org in {o.lower() for o in own.organizations}):
                return agency
        return None

    @classmethod
    def load(cls, path: Path | None) -> Policies:
        if path is None:
            return cls()
        raw = json.loads(path.read_text())
        return cls({k: AgencyPolicy.model_validate(v) for k, v in raw.items()})
