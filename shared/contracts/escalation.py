"""Events produced by escalation: necessary disclosure under a per-agency policy."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Event, event

ConcernCategory = Literal[
    "imminent_self_harm",
    "threat_to_identifiable_person",
    "mandated_reporting",
    "admission_of_crime",
    "duty_refusal_endangering_others",
    "court_order",
    "written_consent",
]
ALL_CATEGORIES: tuple[ConcernCategory, ...] = (
    "imminent_self_harm",
    "threat_to_identifiable_person",
    "mandated_reporting",
    "admission_of_crime",
    "duty_refusal_endangering_others",
    "court_order",
    "written_consent",
)


class Tier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Literal["clinician", "coordinator", "command"]
    ack_within_s: int


@event("disclosure_policy_recorded", aggregate="policy")
class DisclosurePolicyRecorded(Event):
    """A version of an agency's disclosure policy: what may be disclosed without consent, and who is paged."""

    policy_version: int
    jurisdiction: str
    disclosable: tuple[ConcernCategory, ...]
    chain: tuple[Tier, ...]
    categories: tuple[ConcernCategory, ...] = Field(
        default=ALL_CATEGORIES,
        description="the categories a concern may be raised under in this jurisdiction",
    )
    self_harm_requires: Literal["any_threat", "intent_and_plan"] = Field(
        default="any_threat",
        description="what makes imminent self-harm disclosable: any threat, or stated intent with a plan",
    )
    proposed_by: str = Field(default="", description="subject id of who proposed this version")
    approved_by: str = Field(default="", description="subject id of the second person who approved it")


@event("disclosure_policy_proposed", aggregate="policy")
class DisclosurePolicyProposed(Event):
    """A change of the agency's disclosure policy, waiting for a second person to approve it."""

    proposal_id: str
    proposed_by: str = Field(description="subject id of who proposed it")
    jurisdiction: str
    disclosable: tuple[ConcernCategory, ...]
    chain: tuple[Tier, ...]
    categories: tuple[ConcernCategory, ...] = ALL_CATEGORIES
    self_harm_requires: Literal["any_threat", "intent_and_plan"] = "any_threat"


@event("escalation_triggered", aggregate="escalation")
class EscalationTriggered(Event):
    case_id: str
    category: ConcernCategory
    raised_by_role: str
    policy_version: int
    disclosable: bool
    chain: tuple[Tier, ...] = Field(
        default=(), description="the notification chain of the policy version, fixed for this escalation"
    )
    intent_and_plan: bool = Field(
        default=False, description="for self-harm: the raiser reported a stated intent with a plan"
    )
    raised_by: str = Field(default="", description="subject id of who raised it (a peer, or a clinician)")


@event("escalation_tier_advanced", aggregate="escalation")
class EscalationTierAdvanced(Event):
    tier: int
    role: str


@event("escalation_acknowledged", aggregate="escalation")
class EscalationAcknowledged(Event):
    tier: int
    by: str  # subject id of who acknowledged
    role: str = Field(default="", description="the role they answered as (a clinician may take over)")


@event("escalation_resolved", aggregate="escalation")
class EscalationResolved(Event):
    outcome: Literal["member_safe", "referred_to_clinician", "emergency_services", "no_action", "other"]


@event("identity_reveal_refused", aggregate="escalation")
class IdentityRevealRefused(Event):
    """A request for the member's identity under this escalation was refused; the reason is a code sentence
    about policy or state, never about the member."""

    requested_by: str = Field(description="subject id of who asked")
    reason: str


# --- Tier notifications (core NATS, not events): `notify.<agency>.<role>` --------------------------------


NOTIFY_SUBJECT = "notify.{agency}.{role}"  # e.g. notify.riverton-fire.clinician; `notify.*.>` for all


class TierNotification(BaseModel):
    """A page for the role on duty at `tier`. Carries no identity and no free text about the member."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    escalation_id: str
    case_id: str
    agency: str
    category: ConcernCategory
    tier: int
    role: str
    deadline: datetime = Field(description="acknowledge by this time or the next tier is paged")
    disclosable: bool
    event_id: str = Field(description="the log event behind this page (adapters de-duplicate on it)")
