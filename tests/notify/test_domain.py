"""Who is told what, and when: pure rules, no server."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.notify import domain
from shared.contracts.escalation import EscalationTierAdvanced, EscalationTriggered, Tier
from shared.contracts.matching import CoordinatorAlerted, PeerAssigned
from shared.contracts.wellness import DebriefOffered, FollowupOverdue

pytestmark = pytest.mark.unit
A = "riverton-fire"


def test_an_offer_goes_to_the_offered_peer_in_their_own_agency() -> None:
    event = PeerAssigned(peer_ref="p-1", peer_agency="county-ems", assignment_id="a-1")
    [notice] = domain.notices_for(A, "c-1", event)
    assert notice.kind == "offer" and notice.audience == domain.Person("county-ems", "p-1")
    assert notice.page is None and notice.link == "/peer/offers/c-1"


def test_a_page_goes_to_whoever_is_on_call_for_the_tier_role() -> None:
    chain = (Tier(role="clinician", ack_within_s=600), Tier(role="coordinator", ack_within_s=600))
    triggered = EscalationTriggered(
        case_id="c-1", category="imminent_self_harm", raised_by_role="peer", policy_version=1,
        disclosable=True, chain=chain,
    )  # fmt: skip
    [first] = domain.notices_for(A, "x-1", triggered)
    assert first.audience == domain.OnCall(A, "clinician") and first.page == domain.Page(
        "x-1", 1, "clinician"
    )
    [second] = domain.notices_for(A, "x-1", EscalationTierAdvanced(tier=2, role="coordinator"))
    assert second.audience == domain.OnCall(A, "coordinator") and second.page is not None
    assert second.page.tier == 2


def test_coordinators_hear_of_unmatched_requests_and_responders_only_when_they_opted_in() -> None:
    [alert] = domain.notices_for(A, "c-1", CoordinatorAlerted(reason="request_unmatched", case_agency=A))
    assert alert.kind == "unmatched" and alert.audience == domain.Coordinators(A)
    offer = DebriefOffered(
        incident_id="i-1", incident_agency=A, member_ref="m-1", role="crew", offer_type="debrief",
        window_opens="2026-01-05T10:00:00Z", window_closes="2026-01-08T10:00:00Z",
    )  # fmt: skip
    [debrief] = domain.notices_for(A, "d-1", offer)
    assert debrief.opt_in and debrief.audience == domain.Person(A, "m-1")
    overdue = domain.notices_for(A, "f-1", FollowupOverdue(case_id="c-1", peer_ref="p-1"))
    assert {n.audience for n in overdue} == {domain.Person(A, "p-1"), domain.Coordinators(A)}


def test_every_text_is_generic() -> None:
    for text in domain.TEXT.values():
        assert "open Peerline" in text
        for word in ("suicide", "self-harm", "harm", "abuse", "crime", "name"):
            assert word not in text.lower()


def test_notice_ids_are_stable_per_event_and_audience() -> None:
    who = domain.Person(A, "p-1")
    assert domain.notice_id("e-1", who) == domain.notice_id("e-1", who)
    assert domain.notice_id("e-1", who) != domain.notice_id("e-2", who)
    assert domain.notice_id("e-1", who) != domain.notice_id("e-1", domain.Coordinators(A))


QUIET = domain.Quiet(time(22, 0), time(7, 0), "America/Chicago")  # overnight, UTC-6 in January


@pytest.mark.parametrize(
    ("at", "urgent", "expected"),
    [
        (
            datetime(2026, 1, 5, 5, 0, tzinfo=UTC),
            False,
            datetime(2026, 1, 5, 13, 0, tzinfo=UTC),
        ),  # 23:00 local
        (
            datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
            False,
            datetime(2026, 1, 5, 13, 0, tzinfo=UTC),
        ),  # 06:00 local
        (datetime(2026, 1, 5, 18, 0, tzinfo=UTC), False, datetime(2026, 1, 5, 18, 0, tzinfo=UTC)),  # noon
        (datetime(2026, 1, 5, 5, 0, tzinfo=UTC), True, datetime(2026, 1, 5, 5, 0, tzinfo=UTC)),  # a page
    ],
)
def test_quiet_hours_hold_everything_but_pages(at: datetime, urgent: bool, expected: datetime) -> None:
    assert domain.deliver_at(at, QUIET, urgent) == expected


def test_retries_back_off_then_stop() -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    backoff = (1.0, 5.0)
    assert domain.retry_at(1, now, backoff) == datetime(2026, 1, 5, 0, 0, 1, tzinfo=UTC)
    assert domain.retry_at(2, now, backoff) == datetime(2026, 1, 5, 0, 0, 5, tzinfo=UTC)
    assert domain.retry_at(3, now, backoff) is None


def test_a_page_is_missed_only_when_no_delivery_can_still_reach_anyone() -> None:
    assert domain.page_outcome(["dead", "sent"]) == "reached"
    assert domain.page_outcome(["dead", "pending"]) == "pending"
    assert domain.page_outcome(["dead", "dead"]) == "missed"
