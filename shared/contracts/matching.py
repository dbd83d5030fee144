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
    member_ref: str | None = Field(default=None, description="the peer's own member pseudonym, if registered")
    supervisor_refs: tuple[str, ...] = Field(
        default=(), description="member_refs of the peer's chain of command"
    )
    mentor_ref: str | None = None


@event("peer_training_recorded", aggregate="peer")
class PeerTrainingRecorded(Event):
    course: str
    completed_on: str


@event("confidentiality_acknowledged", aggregate="peer")
class ConfidentialityAcknowledged(Event):
    """The peer acknowledged the agency's confidentiality policy (required before any match)."""

    policy_version: str = "1"


@event("peer_availability_changed", aggregate="peer")
class PeerAvailabilityChanged(Event):
    available: bool


@event("peer_availability_confirmed", aggregate="peer")
class PeerAvailabilityConfirmed(Event):
    """The peer re-confirmed they are still on the roster (stale rosters drop out of matching)."""


@event("peer_deselected", aggregate="peer")
class PeerDeselected(Event):
    reason: str = "program decision"


@event("peer_assigned", aggregate="case")
class PeerAssigned(Event):
    """A peer was given the case. At most one assignment is active per case."""

    peer_ref: str
    peer_agency: str = Field(description="the peer's agency; may differ from the case's in a regional pool")
    assignment_id: str = ""
    respond_by: str | None = Field(default=None, description="ISO time after which the offer expires")


@event("assignment_accepted", aggregate="case")
class AssignmentAccepted(Event):
    peer_ref: str
    assignment_id: str = ""


@event("assignment_declined", aggregate="case")
class AssignmentDeclined(Event):
    peer_ref: str
    assignment_id: str = ""


@event("assignment_expired", aggregate="case")
class AssignmentExpired(Event):
    peer_ref: str
    assignment_id: str = ""


@event("request_unmatched", aggregate="case")
class RequestUnmatched(Event):
    """No peer fits the request; the coordinator must act."""

    reason: str
