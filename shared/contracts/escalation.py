"""Events produced by escalation: necessary disclosure under a per-agency policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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


@event("escalation_triggered", aggregate="escalation")
class EscalationTriggered(Event):
    case_id: str
    category: ConcernCategory
    raised_by_role: str
    policy_version: int
    disclosable: bool


@event("escalation_tier_advanced", aggregate="escalation")
class EscalationTierAdvanced(Event):
    tier: int
    role: str


@event("escalation_acknowledged", aggregate="escalation")
class EscalationAcknowledged(Event):
    tier: int
    by: str  # subject id of who acknowledged


@event("escalation_resolved", aggregate="escalation")
class EscalationResolved(Event):
    outcome: Literal["member_safe", "referred_to_clinician", "emergency_services", "no_action", "other"]
