"""Necessary disclosure, decided. Pure: plain data and events in, events or a reasoned refusal out.

An escalation is raised on a case under a category; the agency's policy (the version current when it was
raised) says whether that category permits disclosure without consent and who is paged, tier by tier,
each with an acknowledgement deadline. Time comes in as a value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from shared.contracts.base import Event
from shared.contracts.escalation import (
    ConcernCategory,
    DisclosurePolicyRecorded,
    EscalationAcknowledged,
    EscalationResolved,
    EscalationTierAdvanced,
    EscalationTriggered,
    IdentityRevealRefused,
    Tier,
)
from shared.contracts.matching import AssignmentAccepted, AssignmentDeclined, AssignmentExpired, PeerAssigned
from shared.contracts.tracking import CaseClosed, ContactLogged

Status = Literal["new", "open", "acknowledged", "resolved"]
Outcome = Literal["member_safe", "referred_to_clinician", "emergency_services", "no_action", "other"]
# Who answers a page for each tier role (the HTTP role of the person on duty).
ANSWERS_FOR: dict[str, str] = {"clinician": "clinician", "coordinator": "coordinator", "command": "leader"}
# Sane bounds of a policy: a tier must be answerable, and a deadline must come within a day.
MIN_ACK_S, MAX_ACK_S, MAX_TIERS = 1, 24 * 3600, 5


class Rejected(Exception):
    """The command cannot be carried out; the message says why (never anything about the member)."""


@dataclass(frozen=True)
class Policy:
    """One agency's current disclosure policy, folded from its `disclosure_policy_recorded` versions."""

    version: int = 0
    jurisdiction: str = ""
    categories: tuple[ConcernCategory, ...] = ()
    disclosable: tuple[ConcernCategory, ...] = ()
    chain: tuple[Tier, ...] = ()
    self_harm_requires: str = "any_threat"


def evolve_policy(policy: Policy, event: Event) -> Policy:
    if isinstance(event, DisclosurePolicyRecorded):
        return Policy(
            version=event.policy_version,
            jurisdiction=event.jurisdiction,
            categories=event.categories,
            disclosable=event.disclosable,
            chain=event.chain,
            self_harm_requires=event.self_harm_requires,
        )
    return policy


def record_policy(current: Policy, proposed: DisclosurePolicyRecorded) -> list[Event]:
    """A new version of the policy. Versions count up from 1; an identical policy is not recorded again."""
    if not proposed.chain:
        raise Rejected("chain: a policy needs at least one tier to page")
    if len(proposed.chain) > MAX_TIERS:
        raise Rejected(f"chain: at most {MAX_TIERS} tiers")
    if any(not MIN_ACK_S <= t.ack_within_s <= MAX_ACK_S for t in proposed.chain):
        raise Rejected(f"chain: every acknowledgement deadline is {MIN_ACK_S} to {MAX_ACK_S} seconds")
    if proposed.chain[0].role != "clinician":
        raise Rejected("chain: the first tier is the clinician")
    if not set(proposed.disclosable) <= set(proposed.categories):
        raise Rejected("disclosable: every disclosable category must be one of the policy's categories")
    same = Policy(
        current.version,
        proposed.jurisdiction,
        proposed.categories,
        proposed.disclosable,
        proposed.chain,
        proposed.self_harm_requires,
    )
    if current.version and same == current:
        return []
    return [proposed.model_copy(update={"policy_version": current.version + 1})]


def permits_disclosure(policy: Policy, category: ConcernCategory, intent_and_plan: bool) -> bool:
    if category not in policy.disclosable:
        return False
    if category == "imminent_self_harm" and policy.self_harm_requires == "intent_and_plan":
        return intent_and_plan
    return True


@dataclass(frozen=True)
class Escalation:
    status: Status = "new"
    case_id: str = ""
    category: str = ""
    disclosable: bool = False
    policy_version: int = 0
    chain: tuple[Tier, ...] = ()
    tier: int = 0
    acknowledged_by: str | None = None
    acknowledged_as: str = ""
    raised_by: str = ""

    def role(self, tier: int) -> str:
        return self.chain[tier - 1].role

    def deadline(self, tier_since: datetime) -> datetime:
        return tier_since + timedelta(seconds=self.chain[self.tier - 1].ack_within_s)


def evolve(esc: Escalation, event: Event) -> Escalation:
    match event:
        case EscalationTriggered():
            return Escalation(
                status="open",
                case_id=event.case_id,
                category=event.category,
                disclosable=event.disclosable,
                policy_version=event.policy_version,
                chain=event.chain,
                tier=1,
                raised_by=event.raised_by,
            )
        case EscalationTierAdvanced():
            return replace(esc, tier=event.tier)
        case EscalationAcknowledged():
            # an acknowledgement recorded before roles were: taken as a clinician's (no take-over)
            role = event.role or "clinician"
            return replace(esc, status="acknowledged", acknowledged_by=event.by, acknowledged_as=role)
        case EscalationResolved():
            return replace(esc, status="resolved")
    return esc


def fold(events: list[Event]) -> Escalation:
    esc = Escalation()
    for e in events:
        esc = evolve(esc, e)
    return esc


@dataclass(frozen=True)
class RaiseConcern:
    case_id: str
    category: ConcernCategory
    raised_by_role: str
    intent_and_plan: bool = False
    raised_by: str = ""


@dataclass(frozen=True)
class Involvement:
    """Who is involved in a case, folded from the case's events: the peer holding it (offered or
    accepted, not declined, expired or closed), and whether a contact report referred it to a clinician."""

    holder: str | None = None
    referred_to_clinician: bool = False
    exists: bool = False


def involve(inv: Involvement, event: Event) -> Involvement:
    match event:
        case PeerAssigned() | AssignmentAccepted():
            return replace(inv, holder=event.peer_ref, exists=True)
        case AssignmentDeclined() | AssignmentExpired() if inv.holder == event.peer_ref:
            return replace(inv, holder=None)
        case CaseClosed():
            return replace(inv, holder=None)
        case ContactLogged() if event.referral == "clinician":
            return replace(inv, referred_to_clinician=True, exists=True)
    return replace(inv, exists=True)


def check_raiser(inv: Involvement, *, by: str, role: str) -> str | None:
    """Why this person may not raise a concern on the case, or None: a peer must hold the case; a
    clinician must have had it referred by a contact report."""
    if not inv.exists:
        return "case_id: no such case in this agency"
    if role == "peer" and inv.holder != by:
        return "only the peer holding the case may raise a concern on it"
    if role == "clinician" and not inv.referred_to_clinician:
        return "a clinician may raise a concern only on a case referred to a clinician"
    if role not in ("peer", "clinician"):
        return f"role {role} may not raise a concern"
    return None


def raise_concern(esc: Escalation, policy: Policy, cmd: RaiseConcern) -> list[Event]:
    """The facts that decide disclosability (category, intent and plan) are the raiser's."""
    if esc.status != "new":
        return []  # already raised (a redelivered risk flag, a retried request): nothing new
    if not policy.chain:
        raise Rejected("agency: no disclosure policy is recorded for this agency")
    if cmd.category not in policy.categories:
        raise Rejected(f"category: {cmd.category} is not a category of the {policy.jurisdiction} policy")
    return [
        EscalationTriggered(
            case_id=cmd.case_id,
            category=cmd.category,
            raised_by_role=cmd.raised_by_role,
            policy_version=policy.version,
            disclosable=permits_disclosure(policy, cmd.category, cmd.intent_and_plan),
            chain=policy.chain,
            intent_and_plan=cmd.intent_and_plan,
            raised_by=cmd.raised_by,
        )
    ]


def deadline_passed(esc: Escalation, tier: int) -> list[Event]:
    """The deadline of `tier` passed. If that tier is still the one paged and nobody answered, page the
    next; the last tier stays paged (there is nobody further to page)."""
    if esc.status != "open" or esc.tier != tier or tier >= len(esc.chain):
        return []
    return [EscalationTierAdvanced(tier=tier + 1, role=esc.role(tier + 1))]


def acknowledge(esc: Escalation, *, by: str, role: str) -> list[Event]:
    """Only a role a tier paged so far may answer (a clinician answering after the page moved on counts).
    A clinician may take over an escalation another role acknowledged; whoever raised it may not answer it."""
    if esc.status == "new":
        raise Rejected("no such escalation")
    if esc.raised_by and by == esc.raised_by:
        raise Rejected("who raised the concern may not also acknowledge it")
    taking_over = esc.status == "acknowledged" and role == "clinician" and esc.acknowledged_as != "clinician"
    if esc.status != "open" and not taking_over:
        raise Rejected(f"the escalation is already {esc.status}")
    paged = {ANSWERS_FOR[esc.role(t)] for t in range(1, esc.tier + 1)}
    if role not in paged:
        raise Rejected(f"role {role} has not been paged for this escalation")
    return [EscalationAcknowledged(tier=esc.tier, by=by, role=role)]


def resolve(esc: Escalation, *, by: str, role: str, outcome: Outcome) -> list[Event]:
    if esc.status == "new":
        raise Rejected("no such escalation")
    if esc.status == "open":
        raise Rejected("acknowledge the escalation before resolving it")
    if esc.status == "resolved":
        raise Rejected("the escalation is already resolved")
    if by != esc.acknowledged_by and role != "clinician":
        raise Rejected("only who acknowledged it, or a clinician, may resolve it")
    return [EscalationResolved(outcome=outcome)]


def check_reveal(esc: Escalation, *, by: str, role: str) -> str | None:
    """Why a reveal of the member's identity must be refused, or None if it may be asked of the vault."""
    if esc.status == "new":
        return "no such escalation"
    if role != "clinician":
        return "only a clinician may request a reveal"
    if esc.status == "resolved":
        return "the escalation is resolved"
    if esc.status != "acknowledged":
        return "the escalation has not been acknowledged"
    if esc.acknowledged_by != by:
        return "only the clinician who acknowledged the escalation may request a reveal"
    if not esc.disclosable:
        return (
            f"category {esc.category} does not permit disclosure without consent "
            f"under policy version {esc.policy_version}"
        )
    return None


def refuse_reveal(esc: Escalation, *, by: str, reason: str) -> list[Event]:
    if esc.status == "new":
        return []  # nothing to attach the record to
    return [IdentityRevealRefused(requested_by=by, reason=reason)]
