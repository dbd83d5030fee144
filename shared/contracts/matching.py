"""Events produced by matching: the peer directory and assignments."""

from __future__ import annotations

from pydantic import Field

from shared.contracts.base import Event, event


@event("peer_enrolled", aggregate="peer")
class PeerEnrolled(Event):
    """A selected, trained colleague joined the agency's peer team."""

    discipline: str
    unit: str | None = None
    languages: tuple[str, ...] = ("en",)


@event("confidentiality_acknowledged", aggregate="peer")
class ConfidentialityAcknowledged(Event):
    """The peer acknowledged the agency's confidentiality policy (required before any match)."""

    policy_version: str = "1"


@event("peer_availability_changed", aggregate="peer")
class PeerAvailabilityChanged(Event):
    available: bool


@event("peer_assigned", aggregate="case")
class PeerAssigned(Event):
    """A peer was given the case. At most one assignment is active per case."""

    peer_ref: str
    peer_agency: str = Field(description="the peer's agency; may differ from the case's in a regional pool")


@event("request_unmatched", aggregate="case")
class RequestUnmatched(Event):
    """No peer fits the request; the coordinator must act."""

    reason: str
