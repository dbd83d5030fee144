"""Events produced by intake: requests for support and what becomes of them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Event, event

Activation = Literal["self", "supervisor", "peer", "post_incident"]
AgencyScope = Literal["own", "other", "any"]


class Preferences(BaseModel):
    """What the requester asked for in a peer. Every field is optional."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    agency_scope: AgencyScope = "own"
    peer_ref: str | None = Field(default=None, description="a specific peer, when the requester named one")
    language: str | None = None
    peer_discipline: str | None = None


@event("support_requested", aggregate="case")
class SupportRequested(Event):
    """A member (or someone on their behalf) asked for peer support. Opens the case."""

    activation: Activation
    discipline: str | None = None
    member_ref: str = Field(description="random pseudonym; never the member's identity")
    preferences: Preferences = Preferences()
    token_hash: str = Field(description="SHA-256 of the requester's case access token")


@event("request_cancelled", aggregate="case")
class RequestCancelled(Event):
    """The requester withdrew the request."""

    by: Literal["requester", "coordinator"] = "requester"
