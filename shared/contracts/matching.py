"""Events produced by matching: the peer directory and assignments."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import AgencyId, Event, event


class MatchExplanation(BaseModel):
    """Why this peer, and why each other peer was not chosen. Names peers only, never the member.

    Reasons that would reveal a relation to the member (witness, chain of command) appear as `conflict`.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    chosen_because: tuple[str, ...] = ()
    ranked: tuple[tuple[str, float], ...] = Field(default=(), description="eligible peers, best first")
    excluded: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="reason → peer_refs")
    considered: int = 0


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
    expires_on: str | None = Field(
        default=None, description="ISO date the certification lapses (a peer then leaves matching)"
    )


@event("confidentiality_acknowledged", aggregate="peer")
class ConfidentialityAcknowledged(Event):
    """The peer acknowledged the agency's confidentiality policy (required before any match)."""

    policy_version: str = "1"


@event("peer_availability_changed", aggregate="peer")
class PeerAvailabilityChanged(Event):
    available: bool
    reason: Literal["duty", "break"] = Field(
        default="duty", description="on/off duty, or a self-declared break (ends at `until` if given)"
    )
    until: str | None = None


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
    peer_agency: AgencyId = Field(
        description="the peer's agency; may differ from the case's in a regional pool"
    )
    assignment_id: str = ""
    respond_by: str | None = Field(default=None, description="ISO time after which the offer expires")
    explanation: MatchExplanation | None = None


@event("assignment_accepted", aggregate="case")
class AssignmentAccepted(Event):
    peer_ref: str
    assignment_id: str = ""


# Why a peer declined, as a code (never free text); events from before codes were kept read as None.
DeclineReason = Literal["unavailable", "conflict", "not_my_skill", "overloaded", "other"]
# Why a case was handed on from its peer by someone else: a coordinator's reassignment, or the directory
# when the peer was deselected or went on a break (their open cases are never left with them).
HandOn = Literal["reassigned", "peer_deselected", "peer_on_break"]


@event("assignment_declined", aggregate="case")
class AssignmentDeclined(Event):
    """The assignment ended without the peer keeping the case: declined by the peer, or handed on."""

    peer_ref: str
    assignment_id: str = ""
    reason: DeclineReason | None = None
    handed_on: HandOn | None = Field(default=None, description="set when handed on, not declined by the peer")


@event("assignment_expired", aggregate="case")
class AssignmentExpired(Event):
    peer_ref: str
    assignment_id: str = ""


@event("request_unmatched", aggregate="case")
class RequestUnmatched(Event):
    """No peer fits the request; the coordinator must act."""

    reason: str
    explanation: MatchExplanation | None = None


# --- added by the matching issue: the full peer lifecycle, explanations, alerts -----------------------


@event("peer_applied", aggregate="peer")
class PeerApplied(Event):
    """A colleague applied to the peer team (not matchable until selected, trained and activated)."""

    discipline: str
    unit: str | None = None
    languages: tuple[str, ...] = ("en",)
    member_ref: str | None = Field(default=None, description="the applicant's own member pseudonym")
    supervisor_refs: tuple[str, ...] = Field(
        default=(), description="member_refs of the applicant's chain of command"
    )


@event("peer_selected", aggregate="peer")
class PeerSelected(Event):
    """The program selected the applicant for training."""


@event("peer_activated", aggregate="peer")
class PeerActivated(Event):
    """A selected, trained peer joined the active team."""


@event("mentor_paired", aggregate="peer")
class MentorPaired(Event):
    """A new peer learns alongside an experienced one."""

    mentor_ref: str


class AvailabilityWindow(BaseModel):
    """A weekly window in the peer's time zone: day 0 = Monday; times `HH:MM`, end exclusive."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    day: int = Field(ge=0, le=6)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")


@event("peer_availability_windows_set", aggregate="peer")
class PeerAvailabilityWindowsSet(Event):
    """The weekly windows the peer takes requests in (none = whenever on duty)."""

    windows: tuple[AvailabilityWindow, ...] = ()
    tz: str = "UTC"


@event("peer_reconfirmation_requested", aggregate="peer")
class PeerReconfirmationRequested(Event):
    """A reminder: re-confirm by `due_by` or drop out of matching (stale rosters)."""

    due_by: str


@event("coordinator_alerted", aggregate="case")
class CoordinatorAlerted(Event):
    """A request needs a coordinator (nobody fits). Also sent on `notify.<agency>.coordinator`."""

    reason: str
    case_agency: str = ""


# --- NATS request/reply: the member meets the peer who accepted (not events) --------------------------

PEER_CARD_SUBJECT = "cmd.matching.peer_card"


class PeerCardRequest(BaseModel):
    """Intake asks, for the member of a case, who accepted it and how to reach them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str = Field(description="the case's agency")
    case_id: str


class PeerCard(BaseModel):
    """What the member sees of the peer who accepted: their chosen name and published WORK channels.
    Travels only on the reply inbox; never in an event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    display_name: str | None = None
    discipline: str
    agency: str
    phone: str | None = None
    text: str | None = None


class PeerCardReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    ok: bool
    card: PeerCard | None = None
    refused: str | None = None
