"""Escalation rules, given events / when command / then events: every category under two contrasting
jurisdictions, the tier clock, acknowledgement, resolution and who may ask for a reveal."""

from __future__ import annotations

import pytest

from services.escalation import domain
from services.escalation.domain import approval
from services.escalation.domain.policies import BROAD, NARROW
from shared.contracts.base import Event
from shared.contracts.escalation import (
    ALL_CATEGORIES,
    ConcernCategory,
    DisclosurePolicyProposed,
    DisclosurePolicyRecorded,
    EscalationAcknowledged,
    EscalationResolved,
    EscalationTierAdvanced,
    EscalationTriggered,
    IdentityRevealRefused,
    Tier,
)
from shared.contracts.intake import SupportRequested
from shared.contracts.matching import AssignmentDeclined, PeerAssigned
from shared.contracts.tracking import ContactLogged

pytestmark = pytest.mark.unit


def policy_of(recorded: DisclosurePolicyRecorded) -> domain.Policy:
    return domain.evolve_policy(domain.Policy(), recorded)


# (category, intent_and_plan) → disclosable under broad-duty, under narrow-duty
EXPECTED: dict[tuple[ConcernCategory, bool], tuple[bool, bool]] = {
    ("imminent_self_harm", False): (True, False),  # any threat vs intent + plan
    ("imminent_self_harm", True): (True, True),
    ("threat_to_identifiable_person", False): (True, True),
    ("mandated_reporting", False): (True, True),
    ("admission_of_crime", False): (True, False),
    ("duty_refusal_endangering_others", False): (True, False),
    ("court_order", False): (True, True),
    ("written_consent", False): (True, True),
}


def test_the_table_covers_every_category() -> None:
    assert {c for c, _ in EXPECTED} == set(ALL_CATEGORIES)


def triggered(policy: domain.Policy, category: ConcernCategory, intent_and_plan: bool = False) -> Event:
    cmd = domain.RaiseConcern("c-1", category, "peer", intent_and_plan)
    [event] = domain.raise_concern(domain.Escalation(), policy, cmd)
    return event


@pytest.mark.parametrize(("category", "intent_and_plan"), sorted(EXPECTED))
@pytest.mark.parametrize("jurisdiction", ["broad-duty", "narrow-duty"])
def test_each_category_under_each_jurisdiction(
    category: ConcernCategory, intent_and_plan: bool, jurisdiction: str
) -> None:
    recorded = BROAD if jurisdiction == "broad-duty" else NARROW
    want = EXPECTED[(category, intent_and_plan)][0 if jurisdiction == "broad-duty" else 1]
    policy = policy_of(recorded)

    event = triggered(policy, category, intent_and_plan)

    assert isinstance(event, EscalationTriggered)
    assert event.category == category and event.disclosable is want
    assert event.policy_version == 1 and event.chain == recorded.chain
    assert "member" not in event.model_dump_json()  # a case id and codes only
    # the acknowledging clinician may ask the vault exactly where the policy permits it
    esc = domain.fold([event, EscalationAcknowledged(tier=1, by="u-clin")])
    reason = domain.check_reveal(esc, by="u-clin", role="clinician")
    if want:
        assert reason is None
    else:
        assert reason is not None and category in reason and "does not permit disclosure" in reason


def test_a_category_the_jurisdiction_does_not_have_is_rejected() -> None:
    policy = policy_of(NARROW.model_copy(update={"categories": ("imminent_self_harm",), "disclosable": ()}))
    with pytest.raises(domain.Rejected, match="category: court_order"):
        domain.raise_concern(domain.Escalation(), policy, domain.RaiseConcern("c-1", "court_order", "peer"))


def test_no_policy_no_escalation() -> None:
    with pytest.raises(domain.Rejected, match="no disclosure policy"):
        domain.raise_concern(
            domain.Escalation(), domain.Policy(), domain.RaiseConcern("c-1", "imminent_self_harm", "peer")
        )


def test_raising_twice_is_a_no_op() -> None:
    policy = policy_of(BROAD)
    esc = domain.fold([triggered(policy, "imminent_self_harm")])
    assert domain.raise_concern(esc, policy, domain.RaiseConcern("c-1", "imminent_self_harm", "peer")) == []


def test_a_missed_deadline_pages_the_next_tier_once_and_the_last_tier_stays_paged() -> None:
    esc = domain.fold([triggered(policy_of(BROAD), "imminent_self_harm")])
    assert domain.deadline_passed(esc, 1) == [EscalationTierAdvanced(tier=2, role="coordinator")]
    esc = domain.evolve(esc, EscalationTierAdvanced(tier=2, role="coordinator"))
    assert domain.deadline_passed(esc, 1) == []  # the tier-1 timer fired again: already moved on
    assert domain.deadline_passed(esc, 2) == [EscalationTierAdvanced(tier=3, role="command")]
    esc = domain.evolve(esc, EscalationTierAdvanced(tier=3, role="command"))
    assert domain.deadline_passed(esc, 3) == []


def test_an_acknowledged_escalation_does_not_advance() -> None:
    esc = domain.fold(
        [triggered(policy_of(BROAD), "imminent_self_harm"), EscalationAcknowledged(tier=1, by="u")]
    )
    assert domain.deadline_passed(esc, 1) == []


def test_only_a_paged_role_may_acknowledge() -> None:
    esc = domain.fold([triggered(policy_of(BROAD), "admission_of_crime")])
    with pytest.raises(domain.Rejected, match="coordinator has not been paged"):
        domain.acknowledge(esc, by="u-co", role="coordinator")
    with pytest.raises(domain.Rejected, match="peer has not been paged"):
        domain.acknowledge(esc, by="u-p", role="peer")
    esc = domain.evolve(esc, EscalationTierAdvanced(tier=2, role="coordinator"))
    assert domain.acknowledge(esc, by="u-co", role="coordinator") == [
        EscalationAcknowledged(tier=2, by="u-co", role="coordinator")
    ]
    assert domain.acknowledge(esc, by="u-cl", role="clinician") == [
        EscalationAcknowledged(tier=2, by="u-cl", role="clinician")
    ]
    with pytest.raises(domain.Rejected, match="leader has not been paged"):
        domain.acknowledge(esc, by="u-cmd", role="leader")
    esc = domain.evolve(esc, EscalationTierAdvanced(tier=3, role="command"))
    assert domain.acknowledge(esc, by="u-cmd", role="leader") == [
        EscalationAcknowledged(tier=3, by="u-cmd", role="leader")
    ]


def test_a_clinician_takes_over_what_another_role_acknowledged_but_not_what_a_clinician_did() -> None:
    given = [
        triggered(policy_of(BROAD), "admission_of_crime"),
        EscalationTierAdvanced(tier=2, role="coordinator"),
    ]
    esc = domain.fold([*given, EscalationAcknowledged(tier=2, by="u-co", role="coordinator")])
    with pytest.raises(domain.Rejected, match="already acknowledged"):
        domain.acknowledge(esc, by="u-co2", role="coordinator")
    [taken] = domain.acknowledge(esc, by="u-cl", role="clinician")
    esc = domain.evolve(esc, taken)
    assert domain.check_reveal(esc, by="u-cl", role="clinician") is None
    with pytest.raises(domain.Rejected, match="already acknowledged"):
        domain.acknowledge(esc, by="u-cl2", role="clinician")
    legacy = domain.fold([*given, EscalationAcknowledged(tier=2, by="u-cl")])  # recorded before roles were
    with pytest.raises(domain.Rejected, match="already acknowledged"):
        domain.acknowledge(legacy, by="u-cl2", role="clinician")


def test_whoever_raised_a_concern_cannot_acknowledge_it() -> None:
    cmd = domain.RaiseConcern(
        "c-1", "imminent_self_harm", "clinician", intent_and_plan=True, raised_by="u-cl"
    )
    esc = domain.fold(domain.raise_concern(domain.Escalation(), policy_of(BROAD), cmd))
    with pytest.raises(domain.Rejected, match="raised"):
        domain.acknowledge(esc, by="u-cl", role="clinician")
    assert domain.acknowledge(esc, by="u-cl2", role="clinician")


def test_a_peer_must_hold_the_case_and_a_clinician_must_have_it_referred() -> None:
    def given(*events: Event) -> domain.Involvement:
        inv = domain.Involvement()
        for e in events:
            inv = domain.involve(inv, e)
        return inv

    requested = SupportRequested(activation="self", member_ref="m-1", token_hash="0" * 64)
    offered = PeerAssigned(peer_ref="p-1", peer_agency="a", assignment_id="a1")
    assert domain.check_raiser(given(), by="p-1", role="peer") == "case_id: no such case in this agency"
    assert "holding" in (domain.check_raiser(given(requested), by="p-1", role="peer") or "")
    assert domain.check_raiser(given(requested, offered), by="p-1", role="peer") is None
    assert "holding" in (domain.check_raiser(given(requested, offered), by="p-2", role="peer") or "")
    declined = AssignmentDeclined(peer_ref="p-1", assignment_id="a1")
    assert "holding" in (
        domain.check_raiser(given(requested, offered, declined), by="p-1", role="peer") or ""
    )
    assert "referred" in (domain.check_raiser(given(requested, offered), by="u-cl", role="clinician") or "")
    referral = ContactLogged(
        peer_ref="p-1",
        week="2026-W02",
        mode="phone",
        categories=("health",),
        duration="15_30m",
        referral="clinician",
    )
    assert domain.check_raiser(given(requested, offered, referral), by="u-cl", role="clinician") is None
    assert domain.check_raiser(given(requested, offered), by="u-co", role="coordinator") is not None


def test_resolution_follows_acknowledgement() -> None:
    esc = domain.fold([triggered(policy_of(BROAD), "imminent_self_harm")])
    with pytest.raises(domain.Rejected, match="acknowledge the escalation before"):
        domain.resolve(esc, by="u-cl", role="clinician", outcome="member_safe")
    esc = domain.evolve(esc, EscalationAcknowledged(tier=1, by="u-cl"))
    with pytest.raises(domain.Rejected, match="only who acknowledged"):
        domain.resolve(esc, by="u-co", role="coordinator", outcome="member_safe")
    assert domain.resolve(esc, by="u-cl", role="clinician", outcome="member_safe") == [
        EscalationResolved(outcome="member_safe")
    ]
    esc = domain.evolve(esc, EscalationResolved(outcome="member_safe"))
    with pytest.raises(domain.Rejected, match="already resolved"):
        domain.resolve(esc, by="u-cl", role="clinician", outcome="no_action")


def test_a_reveal_needs_the_acknowledging_clinician_of_an_open_disclosable_escalation() -> None:
    esc = domain.fold([triggered(policy_of(BROAD), "threat_to_identifiable_person")])
    assert domain.check_reveal(esc, by="u-cl", role="clinician") == "the escalation has not been acknowledged"
    esc = domain.evolve(esc, EscalationAcknowledged(tier=1, by="u-cl"))
    assert "only the clinician who acknowledged" in (
        domain.check_reveal(esc, by="u-other", role="clinician") or ""
    )
    assert domain.check_reveal(esc, by="u-cl", role="coordinator") == "only a clinician may request a reveal"
    assert domain.check_reveal(esc, by="u-cl", role="clinician") is None
    esc = domain.evolve(esc, EscalationResolved(outcome="member_safe"))
    assert domain.check_reveal(esc, by="u-cl", role="clinician") == "the escalation is resolved"
    assert domain.check_reveal(domain.Escalation(), by="u", role="clinician") == "no such escalation"
    assert domain.refuse_reveal(esc, by="u-cl", reason="r") == [
        IdentityRevealRefused(requested_by="u-cl", reason="r")
    ]


def test_policy_versions_count_up_and_an_unchanged_policy_is_not_recorded_again() -> None:
    [first] = domain.record_policy(domain.Policy(), BROAD.model_copy(update={"policy_version": 99}))
    assert isinstance(first, DisclosurePolicyRecorded) and first.policy_version == 1
    current = policy_of(first)
    assert domain.record_policy(current, BROAD) == []
    [second] = domain.record_policy(current, NARROW)
    assert isinstance(second, DisclosurePolicyRecorded) and second.policy_version == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"chain": ()}, "chain"),
        ({"chain": (Tier(role="clinician", ack_within_s=0),)}, "chain"),
        ({"chain": (Tier(role="coordinator", ack_within_s=60),)}, "chain"),
        ({"categories": ("court_order",), "disclosable": ("admission_of_crime",)}, "disclosable"),
    ],
)
def test_an_unworkable_policy_is_rejected_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(domain.Rejected, match=f"^{field}:"):
        domain.record_policy(domain.Policy(), BROAD.model_copy(update=change))


def test_the_fallback_for_an_agency_without_policy_pages_but_never_permits_disclosure() -> None:
    from services.escalation.domain.policies import FALLBACK

    [event] = domain.raise_concern(
        domain.Escalation(), FALLBACK, domain.RaiseConcern("c-1", "court_order", "peer")
    )
    assert isinstance(event, EscalationTriggered)
    assert (event.policy_version, event.disclosable, len(event.chain)) == (0, False, 2)


def test_a_policy_change_needs_a_second_person_and_bounded_deadlines() -> None:
    proposal = DisclosurePolicyProposed(
        proposal_id="pp-1",
        proposed_by="u-co1",
        jurisdiction="narrow-duty",
        disclosable=("court_order",),
        chain=(Tier(role="clinician", ack_within_s=300),),
    )
    current, pending = approval.fold([BROAD])
    assert pending is None and current.version == 1
    assert approval.propose(current, proposal) == [proposal]
    current, pending = approval.fold([BROAD, proposal])
    assert pending == proposal and current.version == 1  # not in force until approved
    with pytest.raises(domain.Rejected, match="second person"):
        approval.approve(current, pending, "pp-1", by="u-co1")
    with pytest.raises(domain.Rejected, match="proposal_id"):
        approval.approve(current, pending, "pp-2", by="u-co2")
    [recorded] = approval.approve(current, pending, "pp-1", by="u-co2")
    assert isinstance(recorded, DisclosurePolicyRecorded)
    assert (recorded.policy_version, recorded.proposed_by, recorded.approved_by) == (2, "u-co1", "u-co2")
    assert approval.fold([BROAD, proposal, recorded])[1] is None
    endless = proposal.model_copy(update={"chain": (Tier(role="clinician", ack_within_s=10**30),)})
    with pytest.raises(domain.Rejected, match="chain"):
        approval.propose(current, endless)
