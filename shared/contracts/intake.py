"""Events produced by intake: requests for support, members' sealed identities, critical incidents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import AgencyId, Event, event

Activation = Literal["self", "supervisor", "peer", "post_incident"]
AgencyScope = Literal["own", "other", "any"]
Discipline = Literal["fire", "police", "ems", "dispatch", "corrections", "other"]
CadRole = Literal["responder", "call_taker", "dispatcher"]


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
    unit: str | None = Field(default=None, description="coded unit/station, for matching and coarse trends")
    member_ref: str = Field(description="random pseudonym; never the member's identity")
    preferences: Preferences = Preferences()
    token_hash: str = Field(description="SHA-256 of the requester's case access token")
    incident_ref: str | None = Field(
        default=None, description="the critical incident behind the request, if any"
    )
    supervisor_refs: tuple[str, ...] = Field(
        default=(), description="member_refs in the member's chain of command (never assigned as peers)"
    )
    referred: bool = Field(
        default=False, description="a supervisor or peer referred; who it was is not kept here"
    )
    contact_preference: Literal["phone", "text", "in_person", "video", "any"] = "any"


@event("request_cancelled", aggregate="case")
class RequestCancelled(Event):
    """The requester withdrew the request."""

    by: Literal["requester", "coordinator"] = "requester"


@event("callback_left", aggregate="case")
class CallbackLeft(Event):
    """The member left a callback channel for this case only. Its value is sealed in intake's vault,
    never here."""

    channel: Literal["phone", "text"]


@event("callback_released", aggregate="case")
class CallbackReleased(Event):
    """The member's callback was opened for the peer who accepted the case (the value stays out)."""

    peer_ref: str
    assignment_id: str = ""


class SealedField(BaseModel):
    """AES-GCM ciphertext of one identity field under the member's data key (base64url)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    nonce: str
    ciphertext: str


@event("member_registered", aggregate="member")
class MemberRegistered(Event):
    """A member's identity, sealed. Only intake's vault can open it, and only while the key exists."""

    wrapped_key: str = Field(
        description="the member's data key wrapped by the key-encryption key (base64url)"
    )
    kek_id: str
    sealed: dict[str, SealedField] = Field(description="name / phone / email / employee_id → ciphertext")
    discipline: str | None = None
    key_id: str | None = Field(
        default=None,
        description=(
            "names the data key held only in the vault's own store; when set, `wrapped_key` is empty and"
            " `kek_id` is 'vault-held' (the log never carries the key, so destroying it truly shreds)"
        ),
    )


@event("member_identity_erased", aggregate="member")
class MemberIdentityErased(Event):
    """The member's data key was destroyed: their sealed identity can never be opened again."""

    by_role: str


# Why a clinician asks for a member's identity (the policy category is the basis; this is the purpose).
RevealReason = Literal[
    "emergency_response", "welfare_check", "mandated_report", "legal_order", "member_consent"
]


@event("identity_disclosed", aggregate="member")
class IdentityDisclosed(Event):
    """The vault revealed a member's identity under an escalation. Immutable record of who, why, to whom."""

    escalation_id: str
    case_id: str
    basis: str = Field(description="the policy category that permitted disclosure")
    requested_by: str = Field(description="subject id of the clinician who asked")
    disclosed_to: str
    fields: tuple[str, ...]
    reason: RevealReason | None = Field(default=None, description="why the clinician needed it, coded")


class IncidentFlags(BaseModel):
    """Trigger flags derived from CAD data (people of the public are never stored, only these)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    line_of_duty_death: bool = False
    serious_injury_to_responder: bool = False
    child_victim: bool = False
    officer_involved_shooting: bool = False
    mass_casualty: bool = False
    mayday: bool = False
    colleague_suicide: bool = False
    victim_known_to_responders: bool = False
    failed_resuscitation: bool = False


class Involved(BaseModel):
    """A member of the agency on the incident: crew or call-taker/dispatcher, by pseudonym."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    member_ref: str
    agency: AgencyId
    role: CadRole
    unit: str | None = None
    deceased: bool = Field(
        default=False, description="CAD marks this responder deceased (never offered a debrief)"
    )


@event("critical_incident_reported", aggregate="incident")
class CriticalIncidentReported(Event):
    """Dispatch reported an incident that meets the agency's critical-incident triggers. Once per incident."""

    incident_type: str
    priority: int | None = None
    agencies: tuple[AgencyId, ...]
    flags: IncidentFlags
    involved: tuple[Involved, ...]
    occurred_at: str | None = Field(default=None, description="ISO time CAD gave for the incident")


@event("incident_responders_added", aggregate="incident")
class IncidentRespondersAdded(Event):
    """A later CAD update named more people on an incident already reported (never a second report)."""

    involved: tuple[Involved, ...]


@event("incident_flags_raised", aggregate="incident")
class IncidentFlagsRaised(Event):
    """A later CAD update of an incident already reported raised flags it did not have (a mayday, a
    line-of-duty death, a child victim…), or marked people already named deceased. Flags only grow."""

    flags: IncidentFlags = Field(description="the flags this update raised (those already raised are off)")
    deceased: tuple[str, ...] = Field(
        default=(), description="member_refs already on the incident whom CAD now marks deceased"
    )


# --- NATS request/reply with intake's vault (not events) ---------------------------------------------

REVEAL_SUBJECT = "cmd.intake.reveal_identity"


class RevealRequest(BaseModel):
    """Escalation asks the vault for a member's identity, citing an open escalation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str
    escalation_id: str
    case_id: str
    requested_by: str = Field(description="subject id of the acknowledging clinician")
    disclosed_to: str = Field(description="who receives the identity (usually the same clinician)")
    reason: RevealReason | None = None


class RevealReply(BaseModel):
    """Either the identity fields, or the reason it was refused. Travels only on the reply inbox."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ok: bool
    fields: dict[str, str] = {}
    refused: str | None = None
