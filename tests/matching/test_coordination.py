"""A coordinator's hand on a case, given/when/then: assigning a named peer, reassigning (the case is
handed on from its peer), handing on when a peer is deselected or goes on a break, and a lapsed training
keeping a peer out of matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.matching import domain
from services.matching.domain import Context
from services.matching.domain.peers import evolve
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    PeerAssigned,
    PeerTrainingRecorded,
    RequestUnmatched,
)
from tests.matching.conftest import NOW, given, offered, ready

pytestmark = pytest.mark.unit
POOL = [ready("p1"), ready("p2"), ready("p3")]


def test_a_waiting_or_unmatched_case_goes_to_the_named_peer() -> None:
    [event] = domain.assign_to(given(), "p3", POOL, Context(NOW))
    assert isinstance(event, PeerAssigned) and event.peer_ref == "p3"
    assert event.explanation is not None and event.explanation.chosen_because == (
        "assigned by the coordinator",
    )
    [again] = domain.assign_to(given(RequestUnmatched(reason="no eligible peer")), "p2", POOL, Context(NOW))
    assert isinstance(again, PeerAssigned) and again.peer_ref == "p2"


def test_reassigning_hands_the_case_on_from_its_peer_even_after_acceptance() -> None:
    accepted = given(offered("p1"), AssignmentAccepted(peer_ref="p1", assignment_id="c-1-a1"))
    handed, assigned = domain.assign_to(accepted, "p2", POOL, Context(NOW))
    assert handed == AssignmentDeclined(peer_ref="p1", assignment_id="c-1-a1", handed_on="reassigned")
    assert isinstance(assigned, PeerAssigned) and (assigned.peer_ref, assigned.assignment_id) == (
        "p2",
        "c-1-a2",
    )


def test_the_named_peer_must_be_eligible_and_a_relation_reads_only_as_conflict() -> None:
    with pytest.raises(domain.Rejected, match="already with this peer"):
        domain.assign_to(given(offered("p1")), "p1", POOL, Context(NOW))
    with pytest.raises(domain.Rejected, match="off_duty"):
        domain.assign_to(given(), "p9", [*POOL, ready("p9", on_duty=False)], Context(NOW))
    with pytest.raises(domain.Rejected, match=r"conflict$"):
        domain.assign_to(given(supervisors=("m-p2",)), "p2", POOL, Context(NOW))
    with pytest.raises(domain.Rejected, match="no such peer"):
        domain.assign_to(given(), "p-elsewhere", POOL, Context(NOW))


def test_a_peer_deselected_or_on_a_break_hands_their_case_on_to_the_next_best() -> None:
    events = domain.hand_on(given(offered("p1")), "p1", "peer_deselected", POOL, Context(NOW))
    assert events[0] == AssignmentDeclined(peer_ref="p1", assignment_id="c-1-a1", handed_on="peer_deselected")
    assert isinstance(events[1], PeerAssigned) and events[1].peer_ref != "p1"
    assert domain.hand_on(given(offered("p2")), "p1", "peer_on_break", POOL, Context(NOW)) == []


def test_a_lapsed_training_keeps_a_peer_out_of_matching() -> None:
    trained = evolve(
        ready("p1"),
        PeerTrainingRecorded(course="cism", completed_on="2024-01-01", expires_on="2026-01-01"),
        NOW,
    )
    assert trained.training_expires == "2026-01-01"
    assert domain.why_not(trained, given(), Context(NOW)) == "training_lapsed"
    assert domain.why_not(trained, given(), Context(datetime(2025, 12, 31, tzinfo=UTC))) is None
