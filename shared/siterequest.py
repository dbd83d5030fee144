"""A support request taken at an agency site (docs/leaf-sites.md), queued on the site's own stream.

Whatever takes the request at the site (intake or the console running there) publishes it to
`site.<agency>.request` as `site-door-<agency>`; the region's intake turns it into a case once the link
is up. It carries no identity at all: the site has no vault, and a message waiting at a site must not
hold what the log may not. So only requests the member makes for themself — `self` or `post_incident`,
anonymous — go this way; a referral by a supervisor or peer must say how to reach the member, which
only the region's intake API may take (it seals that in the vault). The member follows the request with
a case token given at the site; the message holds only the token's SHA-256.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.intake import AgencyScope
from shared.envelope import TOKEN
from shared.fields import Id, Language

FORMAT: Literal["peerline-site-request/1"] = "peerline-site-request/1"
Coded = Annotated[str, Field(max_length=64)]


class SitePreferences(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agency_scope: AgencyScope = "own"
    peer_ref: Id | None = None
    language: Language | None = None
    peer_discipline: Coded | None = None


class SiteRequest(BaseModel):
    """One request, as the site door publishes it (`Nats-Msg-Id` = `request_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["peerline-site-request/1"] = FORMAT
    request_id: str = Field(pattern=TOKEN.pattern, min_length=8, max_length=64, description="the door's id")
    activation: Literal["self", "post_incident"]
    discipline: Coded | None = None
    unit: Coded | None = None
    preferences: SitePreferences = SitePreferences()
    contact_preference: Literal["phone", "text", "in_person", "video", "any"] = "any"
    incident_ref: str | None = Field(default=None, pattern=TOKEN.pattern, max_length=128)
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the case token, hex")
    requested_at: datetime


def case_id(agency: str, request_id: str) -> str:
    """The case a site request opens: the same for every copy of it, so it is opened once."""
    return "c-" + hashlib.sha256(f"{agency}/{request_id}".encode()).hexdigest()[:32]


def headers(request: SiteRequest) -> dict[str, str]:
    """Publish headers: the site stream keeps one copy of a request posted twice."""
    return {"Nats-Msg-Id": f"site-request-{request.request_id}"}
