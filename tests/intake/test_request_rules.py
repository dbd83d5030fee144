"""Given / when / then for a case as the requester sees it, and for the vault's reveal rule."""

from __future__ import annotations

import pytest

from services.intake import domain
from shared.contracts.escalation import EscalationAcknowledged, EscalationResolved, EscalationTriggered
from shared.contracts.intake import (
    CallbackLeft,
    CallbackReleased,
    MemberIdentityErased,
    MemberRegistered,
    RequestCancelled,
    SealedField,
    SupportRequested,
)
from shared.contracts.matching import AssignmentAccepted, AssignmentDeclined, PeerAssigned
from shared.contracts.tracking import CaseClosed

pytestmark = pytest.mark.unit


def opened(activation: str = "self") -> SupportRequested:
    return SupportRequested(activation=activation, member_ref="m-1", token_hash="h")  # type: ignore[arg-type]


@pytest.mark.parametrize("activation", ["self", "supervisor", "peer", "post_incident"])
def test_every_activation_opens_a_case(activation: str) -> None:
    cmd = domain.RequestSupport(
        activation,  # type: ignore[arg-type]
        identity_fields=frozenset({"phone"}),
        incident_ref="i-1" if activation == "post_incident" else None,
    )
    [event] = domain.request_support(domain.Case(), cmd, member_ref="m-1", token_hash="h")
    assert isinstance(event, SupportRequested)
    assert event.activation == activation
    assert event.referred == (activation in {"supervisor", "peer"})
    assert domain.requester_keeps_token(event.activation) == (activation in {"self", "post_incident"})


def test_a_self_referral_may_stay_anonymous() -> None:
    [event] = domain.request_support(
        domain.Case(), domain.RequestSupport("self"), member_ref="m-9", token_hash="h"
    )
    assert isinstance(event, SupportRequested) and event.member_ref == "m-9" and not event.referred


@pytest.mark.parametrize("activation", ["supervisor", "peer"])
def test_a_referral_must_say_how_to_reach_the_member(activation: str) -> None:
    cmd = domain.RequestSupport(activation, identity_fields=frozenset({"name"}))  # type: ignore[arg-type]
    with pytest.raises(domain.Rejected, match="identity"):
        domain.request_support(domain.Case(), cmd, member_ref="m-1", token_hash="h")


def test_a_supervisor_referral_keeps_the_chain_of_command_out_of_matching() -> None:
    cmd = domain.RequestSupport(
        "supervisor", identity_fields=frozenset({"email"}), supervisor_refs=("m-boss",)
    )
    [event] = domain.request_support(domain.Case(), cmd, member_ref="m-1", token_hash="h")
    assert isinstance(event, SupportRequested) and event.supervisor_refs == ("m-boss",)


def test_cancel_rules() -> None:
    with pytest.raises(domain.Rejected):
        domain.cancel(domain.Case())
    case = domain.fold([opened(), PeerAssigned(peer_ref="p", peer_agency="a")])
    assert case.status == "offered"
    assert domain.cancel(case) == [RequestCancelled(by="requester")]
    with pytest.raises(domain.Rejected, match="already"):
        domain.cancel(domain.fold([opened(), RequestCancelled()]))
    with pytest.raises(domain.Rejected, match="closed"):
        domain.cancel(domain.fold([opened(), CaseClosed()]))


def test_the_member_sees_requested_offered_accepted_closed() -> None:
    offer = PeerAssigned(peer_ref="p", peer_agency="a", assignment_id="x")
    steps = [
        opened(),
        offer,
        AssignmentDeclined(peer_ref="p"),
        offer,
        AssignmentAccepted(peer_ref="p"),
        CaseClosed(),
    ]
    seen = [domain.fold(steps[: i + 1]).status for i in range(len(steps))]
    assert seen == ["requested", "offered", "requested", "offered", "accepted", "closed"]


def test_a_callback_is_left_on_an_open_case_only() -> None:
    assert domain.leave_callback(domain.fold([opened()]), "text") == [CallbackLeft(channel="text")]
    for closed in (RequestCancelled(), CaseClosed()):
        with pytest.raises(domain.Rejected, match="no longer open"):
            domain.leave_callback(domain.fold([opened(), closed]), "phone")


def test_a_callback_is_released_to_the_accepting_peer_alone() -> None:
    meeting = domain.Meeting("accepted", "m-1", "p-1", "a-1", "left")
    released = [CallbackReleased(peer_ref="p-1", assignment_id="a-1")]
    assert domain.may_release_callback(meeting, "p-1") == released
    assert domain.who_contacts(meeting) == "peer_contacts_member"
    refused = [
        (meeting, "p-2"),  # another peer
        (domain.Meeting("offered", "m-1", None, "", "left"), "p-1"),  # not accepted yet
        (domain.Meeting("accepted", "m-1", "p-1", "a-1", "shredded"), "p-1"),
        (domain.Meeting("accepted", "m-1", "p-1", "a-1", None), "p-1"),  # none left
    ]
    for state, peer in refused:
        with pytest.raises(domain.Rejected):
            domain.may_release_callback(state, peer)
    assert domain.who_contacts(domain.Meeting("accepted", "m-1", "p-1")) == "member_contacts_peer"
    assert domain.who_contacts(domain.Meeting("offered", "m-1")) is None


# --- reveal -----------------------------------------------------------------------------------------

TRIGGERED = EscalationTriggered(
    case_id="c-1", category="imminent_self_harm", raised_by_role="peer", policy_version=1, disclosable=True
)
ACKED = EscalationAcknowledged(tier=0, by="u-clin")
REGISTERED = MemberRegistered(
    wrapped_key="", kek_id="vault-held", sealed={"name": SealedField(nonce="n", ciphertext="c")}
)


def reveal(escalation: list, member: list | None = None, requested_by: str = "u-clin", case_id: str = "c-1"):  # type: ignore[no-untyped-def, type-arg]
    return domain.may_reveal(
        escalation,
        [opened()],
        [REGISTERED] if member is None else member,
        case_id=case_id,
        requested_by=requested_by,
    )


def test_reveal_is_allowed_under_an_open_acknowledged_disclosable_escalation() -> None:
    allowed = reveal([TRIGGERED, ACKED])
    assert allowed == domain.Reveal("m-1", "imminent_self_harm")


@pytest.mark.parametrize(
    ("escalation", "member", "who", "case_id", "reason"),
    [
        ([], None, "u-clin", "c-1", "no such escalation"),
        ([TRIGGERED, ACKED], None, "u-clin", "c-2", "another case"),
        ([TRIGGERED.model_copy(update={"disclosable": False}), ACKED], None, "u-clin", "c-1", "policy"),
        ([TRIGGERED], None, "u-clin", "c-1", "acknowledged"),
        ([TRIGGERED, ACKED], None, "u-someone-else", "c-1", "acknowledged"),
        ([TRIGGERED, ACKED, EscalationResolved(outcome="member_safe")], None, "u-clin", "c-1", "resolved"),
        ([TRIGGERED, ACKED], [], "u-clin", "c-1", "no identity"),
        ([TRIGGERED.model_copy(update={"raised_by": "u-clin"}), ACKED], None, "u-clin", "c-1", "raised"),
        (
            [TRIGGERED, ACKED],
            [REGISTERED, MemberIdentityErased(by_role="regional_admin")],
            "u-clin",
            "c-1",
            "erased",
        ),
    ],
)
def test_reveal_is_refused_with_a_reason(escalation, member, who, case_id, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(domain.Rejected, match=reason):
        reveal(escalation, member, who, case_id)
