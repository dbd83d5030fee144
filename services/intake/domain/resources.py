"""An agency's resource directory, readable by anyone without signing in: crisis lines, employee
assistance, clinicians who know first-responder work, chaplains. Part of intake's per-agency policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["crisis_line", "employee_assistance", "clinician", "chaplain"]


class Resource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    name: str = Field(max_length=80)
    call: str | None = Field(default=None, max_length=32)
    text: str | None = Field(default=None, max_length=32)
    url: str | None = Field(default=None, max_length=200, pattern=r"^https://")
    hours: str = Field(default="24/7", max_length=40)
    note: str = Field(default="", max_length=200)


# Demo entries (555-01xx numbers and `.example` addresses): an agency lists its own in its policy.
DEFAULT_RESOURCES: tuple[Resource, ...] = (
    Resource(kind="crisis_line", name="988 Suicide & Crisis Lifeline", call="988", text="988"),
    Resource(kind="crisis_line", name="Safe Call Now (first responders)", call="+1-206-459-3020"),
    Resource(
        kind="employee_assistance",
        name="Employee Assistance Program",
        call="+1-555-0100",
        url="https://eap.example",
        hours="Mon–Fri 8:00–20:00",
        note="Free, confidential counselling for you and your household.",
    ),
    Resource(
        kind="clinician",
        name="First-responder trauma clinicians",
        call="+1-555-0101",
        url="https://clinicians.example",
        hours="By appointment",
        note="Vetted clinicians who know shift work, critical incidents and the culture of the job.",
    ),
    Resource(
        kind="chaplain",
        name="Agency chaplain",
        call="+1-555-0102",
        note="Any faith or none; what you say to a chaplain stays with them.",
    ),
)
