"""Two people for a disclosure-policy change: one proposes, a second (another coordinator of the agency,
or a regional admin) approves. Pure: events in, events or a reasoned refusal out."""

from __future__ import annotations

from services.escalation.domain import Policy, Rejected, evolve_policy, record_policy
from shared.contracts.base import Event
from shared.contracts.escalation import DisclosurePolicyProposed, DisclosurePolicyRecorded


def fold(events: list[Event]) -> tuple[Policy, DisclosurePolicyProposed | None]:
    """The current policy and the proposal waiting for approval (a recorded version settles it)."""
    policy, pending = Policy(), None
    for e in events:
        if isinstance(e, DisclosurePolicyProposed):
            pending = e
        elif isinstance(e, DisclosurePolicyRecorded):
            policy, pending = evolve_policy(policy, e), None
    return policy, pending


def recorded(proposal: DisclosurePolicyProposed, approved_by: str) -> DisclosurePolicyRecorded:
    return DisclosurePolicyRecorded(
        policy_version=0,
        jurisdiction=proposal.jurisdiction,
        disclosable=proposal.disclosable,
        chain=proposal.chain,
        categories=proposal.categories,
        self_harm_requires=proposal.self_harm_requires,
        proposed_by=proposal.proposed_by,
        approved_by=approved_by,
    )


def propose(current: Policy, proposal: DisclosurePolicyProposed) -> list[Event]:
    """Checked as a policy would be; a proposal identical to the current policy proposes nothing. A new
    proposal replaces one still waiting."""
    if not record_policy(current, recorded(proposal, approved_by="")):
        return []
    return [proposal]


def approve(
    current: Policy, pending: DisclosurePolicyProposed | None, proposal_id: str, *, by: str
) -> list[Event]:
    if pending is None or pending.proposal_id != proposal_id:
        raise Rejected("proposal_id: no such proposal is waiting for approval")
    if by == pending.proposed_by:
        raise Rejected("a second person must approve a policy change")
    return record_policy(current, recorded(pending, approved_by=by))
