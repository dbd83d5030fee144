"""The peer directory's lifecycle and availability rules, given/when/then."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.matching.domain import peers as rules
from services.matching.domain.codec import peer_from_json, peer_to_json
from services.matching.domain.peers import Peer, Policy
from shared.contracts.base import Event
from shared.contracts.matching import (
    AvailabilityWindow,
    ConfidentialityAcknowledged,
    MentorPaired,
    PeerActivated,
    PeerApplied,
    PeerAvailabilityChanged,
    PeerAvailabilityConfirmed,
    PeerAvailabilityWindowsSet,
    PeerDeselected,
    PeerEnrolled,
    PeerReconfirmationRequested,
    PeerSelected,
    PeerTrainingRecorded,
)
from shared.contracts.wellness import PeerBreakEnded, PeerBreakRequested, PeerOverloaded, PeerRecovered

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def given(*events: Event, at: datetime = T0) -> Peer:
    peer = Peer("p-1", "cfd")
    for e in events:
        [accepted] = rules.decide(peer, e)
        peer = rules.evolve(peer, accepted, at)
    return peer


APPLIED = PeerApplied(discipline="fire", member_ref="m-9", supervisor_refs=("m-1",))
TRAINING = PeerTrainingRecorded(course="cism-basic", completed_on="2026-01-02")


def test_application_selection_training_activation() -> None:
    peer = given(APPLIED, PeerSelected(), TRAINING, PeerActivated())
    assert (peer.stage, peer.trainings, peer.member_ref, peer.supervisor_refs) == (
        "active",
        1,
        "m-9",
        ("m-1",),
    )


@pytest.mark.parametrize(
    ("history", "command"),
    [
        ((), PeerSelected()),
        ((APPLIED,), PeerActivated()),
        ((APPLIED,), TRAINING),
        ((APPLIED, PeerSelected()), PeerActivated()),
        ((APPLIED, PeerSelected(), TRAINING, PeerActivated()), PeerSelected()),
        ((APPLIED,), APPLIED),
        ((PeerEnrolled(discipline="ems"), PeerDeselected()), PeerAvailabilityChanged(available=True)),
        ((PeerEnrolled(discipline="ems"),), MentorPaired(mentor_ref="p-1")),
    ],
)
def test_steps_out_of_order_are_rejected(history: tuple[Event, ...], command: Event) -> None:
    with pytest.raises(rules.Rejected):
        rules.decide(given(*history), command)


def test_a_trained_peer_can_be_enrolled_directly_as_active() -> None:
    assert given(PeerEnrolled(discipline="ems")).stage == "active"


def test_mentor_must_be_an_active_peer() -> None:
    new = given(APPLIED, PeerSelected())
    with pytest.raises(rules.Rejected):
        rules.pair_mentor(new, Peer("p-2", "cfd", stage="selected"))
    with pytest.raises(rules.Rejected):
        rules.pair_mentor(new, None)
    [paired] = rules.pair_mentor(new, Peer("p-2", "cfd", stage="active"))
    assert rules.evolve(new, paired, T0).mentor_ref == "p-2"


def test_wellness_load_and_breaks_and_self_declared_breaks() -> None:
    peer = given(
        PeerEnrolled(discipline="ems"), ConfidentialityAcknowledged(), PeerAvailabilityChanged(available=True)
    )
    assert peer.acknowledged and peer.on_duty and not peer.overloaded
    assert rules.evolve(peer, PeerOverloaded(reasons=("active_cases",)), T0).overloaded
    assert not rules.evolve(
        rules.evolve(peer, PeerOverloaded(reasons=()), T0), PeerRecovered(), T0
    ).overloaded
    on_break = rules.evolve(peer, PeerBreakRequested(), T0)
    assert on_break.on_break(T0 + timedelta(days=365))
    assert not rules.evolve(on_break, PeerBreakEnded(), T0).on_break(T0)
    until = (T0 + timedelta(days=2)).isoformat()
    own = rules.evolve(peer, PeerAvailabilityChanged(available=False, reason="break", until=until), T0)
    assert own.on_break(T0 + timedelta(days=1)) and not own.on_break(T0 + timedelta(days=3))
    assert own.on_duty  # a break is not going off duty


def test_unconfirmed_peers_drop_out_after_the_agencys_period_with_a_reminder_first() -> None:
    policy = Policy(reconfirm_every_days=30, remind_days_before=7)
    peer = given(PeerEnrolled(discipline="ems"))
    remind_at, deadline = rules.reminder_due(peer, policy)  # type: ignore[misc]
    assert (remind_at, deadline) == (T0 + timedelta(days=23), T0 + timedelta(days=30))
    assert not peer.unconfirmed(T0 + timedelta(days=30), policy)
    assert peer.unconfirmed(T0 + timedelta(days=31), policy)
    reminded = rules.evolve(peer, PeerReconfirmationRequested(due_by=deadline.isoformat()), T0)
    assert reminded.reminded_due_by == deadline.isoformat()
    confirmed = rules.evolve(peer, PeerAvailabilityConfirmed(), T0 + timedelta(days=29))
    assert not confirmed.unconfirmed(T0 + timedelta(days=31), policy)
    assert rules.reminder_due(given(APPLIED), policy) is None


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ([PeerAvailabilityChanged(available=False, reason="break", until="2026-02-01T00:00")], "break_until"),
        ([PeerAvailabilityWindowsSet(tz="/etc/passwd")], "tz"),
        ([PeerAvailabilityWindowsSet(tz="Nowhere/Special")], "tz"),
    ],
)
def test_a_record_matching_cannot_evaluate_is_named_a_defect(events: list[Event], reason: str) -> None:
    peer = Peer("p-1", "riverton-fire")
    for e in [PeerEnrolled(discipline="ems"), *events]:
        peer = rules.evolve(peer, e, T0)
    found = rules.defect(peer)
    assert found is not None and found.startswith(reason)


def test_a_sound_record_has_no_defect() -> None:
    peer = Peer("p-1", "riverton-fire")
    for e in [
        PeerEnrolled(discipline="ems"),
        PeerAvailabilityChanged(available=False, reason="break", until="2026-02-01T00:00+01:00"),
        PeerAvailabilityWindowsSet(tz="America/Chicago"),
    ]:
        peer = rules.evolve(peer, e, T0)
    assert rules.defect(peer) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"respond_within_minutes": 10**30},
        {"respond_within_minutes": 0},
        {"recent_days": 0},
        {"weight_active": -1},
    ],
)
def test_every_duration_and_weight_of_the_matching_policy_is_bounded(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Policy(**bad)


def test_a_folded_peer_survives_the_directory_views_json_unchanged() -> None:
    windows = (AvailabilityWindow(day=1, start="08:00", end="17:00"),)
    full = Peer(
        "p-1",
        "a",
        languages=("en", "fr"),
        supervisor_refs=("p-9",),
        stage="active",
        windows=windows,
        break_until=T0 + timedelta(days=2),
        confirmed_at=T0,
        reachable=True,
    )
    for peer in (full, Peer("p-2", "b")):
        text = peer_to_json(peer)
        assert peer_from_json(text) == peer
        assert list(json.loads(text)) == sorted(json.loads(text))  # one spelling for equal states
    assert json.loads(peer_to_json(full))["windows"] == [{"day": 1, "start": "08:00", "end": "17:00"}]
