"""The assignment lifecycle, given/when/then: offer, accept, decline, expiry, nobody fits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from services.matching import domain
from services.matching.domain import Context
from services.matching.domain.ledger import Ledger
from services.matching.domain.peers import with_load
from shared.contracts.intake import RequestCancelled
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    CoordinatorAlerted,
    PeerAssigned,
    RequestUnmatched,
)
from tests.matching.conftest import NOW, given, offered, ready

pytestmark = pytest.mark.unit
POOL = [ready("p1"), ready("p2", active_cases=1), ready("p3", active_cases=2)]


def test_a_new_request_is_offered_to_the_best_peer() -> None:
    [event] = domain.assign(given(), POOL, Context(NOW))
    assert isinstance(event, PeerAssigned) and event.peer_ref == "p1"


def test_never_a_second_assignment_while_one_is_active() -> None:
    assert domain.assign(given(offered("p1")), POOL, Context(NOW)) == []
    accepted = given(offered("p1"), AssignmentAccepted(peer_ref="p1", assignment_id="c-1-a1"))
    assert domain.assign(accepted, POOL, Context(NOW)) == []
    assert domain.assign(given(RequestCancelled()), POOL, Context(NOW)) == []


def test_the_offered_peer_accepts_once_and_nobody_else_can() -> None:
    case = given(offered("p1"))
    assert domain.accept(case, "p1") == [AssignmentAccepted(peer_ref="p1", assignment_id="c-1-a1")]
    with pytest.raises(domain.Rejected):
        domain.accept(case, "p2")
    assert domain.accept(given(offered("p1"), *domain.accept(case, "p1")), "p1") == []


def test_a_decline_goes_to_the_next_best_peer_and_the_decliner_is_not_asked_again() -> None:
    events = domain.decline(given(offered("p1")), "p1", POOL, Context(NOW))
    assert events[0] == AssignmentDeclined(peer_ref="p1", assignment_id="c-1-a1")
    assert isinstance(events[1], PeerAssigned) and events[1].peer_ref == "p2"
    assert events[1].assignment_id == "c-1-a2"
    again = domain.decline(given(offered("p1"), *events), "p2", POOL, Context(NOW))
    assert isinstance(again[1], PeerAssigned) and again[1].peer_ref == "p3"


def test_a_decline_carries_its_coded_reason_and_an_old_decline_reads_as_none() -> None:
    events = domain.decline(given(offered("p1")), "p1", POOL, Context(NOW), "not_my_skill")
    assert events[0] == AssignmentDeclined(peer_ref="p1", assignment_id="c-1-a1", reason="not_my_skill")
    old = AssignmentDeclined.model_validate({"peer_ref": "p1", "assignment_id": "c-1-a1"})
    assert old.reason is None
    with pytest.raises(ValueError):
        AssignmentDeclined.model_validate({"peer_ref": "p1", "reason": "my kid is sick"})


def test_an_offer_expires_only_after_its_deadline_and_only_once() -> None:
    case = given(offered("p1"))
    assert domain.expire(case, "c-1-a1", POOL, Context(NOW + timedelta(minutes=14))) == []
    events = domain.expire(case, "c-1-a1", POOL, Context(NOW + timedelta(minutes=15)))
    assert events[0] == AssignmentExpired(peer_ref="p1", assignment_id="c-1-a1")
    assert isinstance(events[1], PeerAssigned) and events[1].peer_ref == "p2"
    later = Context(NOW + timedelta(hours=1))
    assert domain.expire(given(offered("p1"), *events), "c-1-a1", POOL, later) == []  # fired twice: nothing
    accepted = given(offered("p1"), AssignmentAccepted(peer_ref="p1", assignment_id="c-1-a1"))
    assert domain.expire(accepted, "c-1-a1", POOL, later) == []


def test_nobody_fits_means_unmatched_and_a_coordinator_alert() -> None:
    events = domain.decline(given(offered("p1")), "p1", [ready("p1")], Context(NOW))
    assert [type(e) for e in events] == [AssignmentDeclined, RequestUnmatched, CoordinatorAlerted]
    unmatched = given(offered("p1"), *events)
    assert unmatched.status == "unmatched"
    [again] = domain.rematch(unmatched, [ready("p1"), ready("p9")], Context(NOW))
    assert isinstance(again, PeerAssigned) and again.peer_ref == "p9"
    with pytest.raises(domain.Rejected):
        domain.rematch(given(), POOL, Context(NOW))


def test_the_assigners_own_recent_offers_count_until_the_view_has_them() -> None:
    ledger = Ledger()
    ledger.record(10, [offered("p1")])
    ledger.record(11, [AssignmentDeclined(peer_ref="p2", assignment_id="x"), offered("p3")])
    seen = {p.peer_ref: p for p in ledger.overlay(POOL, applied=9)}
    assert (seen["p1"].active_cases, seen["p1"].recent_assignments) == (1, 1)
    assert seen["p2"].active_cases == 0 and seen["p3"].active_cases == 3
    assert ledger.overlay(POOL, applied=11) == POOL and ledger.entries == []


def test_a_burst_on_a_lagging_view_still_spreads() -> None:
    """The reason for the ledger: ten requests decided before the view sees any of them."""
    ledger, pool, chosen = Ledger(), [ready(f"p{n}") for n in range(5)], []
    for n in range(10):
        case = replace(given(), case_id=f"c-{n}")
        [event] = domain.assign(case, ledger.overlay(pool, applied=0), Context(NOW))
        ledger.record(n + 1, [event])
        chosen.append(event.peer_ref)  # type: ignore[attr-defined]
    assert sorted(chosen.count(f"p{n}") for n in range(5)) == [2, 2, 2, 2, 2]


def test_a_peer_with_another_load_is_that_peer_with_that_load_and_nothing_else() -> None:
    peer = ready("p1", languages=("en", "es"), overloaded=True, break_until=NOW)
    loaded = with_load(peer, 3, 7)
    assert loaded == replace(peer, active_cases=3, recent_assignments=7)
    assert (peer.active_cases, peer.recent_assignments) == (0, 0)  # the original is untouched
    with pytest.raises(AttributeError):
        loaded.active_cases = 1  # type: ignore[misc]
