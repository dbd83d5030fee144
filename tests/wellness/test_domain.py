"""Wellness rules as given / when / then on plain data: no server, no clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.wellness import domain
from services.wellness.domain.policy import AgencyPolicy, Policies
from shared.contracts.intake import IncidentFlags, Involved
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefOffered,
    ExposureCheckinOffered,
    FollowupDue,
    FollowupOverdue,
    FollowupScheduled,
    PeerBreakEnded,
    PeerBreakRequested,
    PeerOverloaded,
    PeerRecovered,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLICY = AgencyPolicy(
    max_active_cases=3, max_contacts_7d=5, max_personal_incidents=2, cool_down=timedelta(hours=48)
)


def test_a_threshold_reached_overloads_with_every_reason_named() -> None:
    events = domain.decide_load(domain.PeerState(), domain.Load(3, 5, 0), POLICY, T0)
    assert len(events) == 1 and isinstance(events[0], PeerOverloaded)
    assert events[0].reasons == ("active_cases 3 >= 3", "contacts_7d 5 >= 5")
    assert domain.decide_load(domain.PeerState(), domain.Load(2, 4, 1), POLICY, T0) == []


def test_personal_incidents_count_towards_load() -> None:
    (event,) = domain.decide_load(domain.PeerState(), domain.Load(0, 0, 2), POLICY, T0)
    assert isinstance(event, PeerOverloaded) and event.reasons == ("personal_incidents_30d 2 >= 2",)


def test_recovery_needs_both_lower_load_and_the_cool_down() -> None:
    state = domain.evolve_peer(domain.PeerState(), PeerOverloaded(reasons=("x",)), T0)
    calm = domain.Load(1, 1, 0)
    assert domain.decide_load(state, domain.Load(3, 0, 0), POLICY, T0 + timedelta(days=5)) == []
    assert domain.decide_load(state, calm, POLICY, T0 + timedelta(hours=47)) == []
    assert domain.decide_load(state, calm, POLICY, T0 + timedelta(hours=48)) == [PeerRecovered()]
    why = domain.explain(state, calm, POLICY)
    assert why.status == "overloaded" and why.cool_down_until == T0 + timedelta(hours=48)
    assert "cool-down" in why.reasons[0]
    recovered = domain.evolve_peer(state, PeerRecovered(), T0 + timedelta(hours=48))
    assert domain.explain(recovered, calm, POLICY).status == "available"


def test_a_peer_takes_and_ends_a_break_and_a_timed_break_ends_itself() -> None:
    until = T0 + timedelta(days=2)
    (req,) = domain.request_break(domain.PeerState(), until, T0)
    assert req == PeerBreakRequested(until=until.isoformat())
    state = domain.evolve_peer(domain.PeerState(), req, T0)
    with pytest.raises(domain.Rejected):
        domain.request_break(state, None, T0)
    assert domain.break_expired(state, T0 + timedelta(days=1)) == []
    assert domain.break_expired(state, until) == [PeerBreakEnded()]
    assert domain.end_break(state) == [PeerBreakEnded()]
    with pytest.raises(domain.Rejected):
        domain.end_break(domain.PeerState())
    with pytest.raises(domain.Rejected):
        domain.request_break(domain.PeerState(), T0 - timedelta(minutes=1), T0)
    assert domain.explain(state, domain.Load(), POLICY).status == "on_break"


def test_followups_follow_the_agency_schedule() -> None:
    plan = domain.plan_followups("c-1", "p-1", T0, AgencyPolicy())
    assert [(e.n, e.due_at) for _, e in plan] == [
        (1, (T0 + timedelta(days=3)).isoformat()),
        (2, (T0 + timedelta(days=30)).isoformat()),
    ]
    assert len({fid for fid, _ in plan}) == 2 and plan[0][0] == domain.followup_id("c-1", 1)


def _scheduled() -> domain.Followup:
    event = FollowupScheduled(case_id="c-1", peer_ref="p-1", due_at=(T0 + timedelta(days=3)).isoformat(), n=1)
    return domain.evolve_followup(domain.Followup(), event)


def test_a_followup_falls_due_once_then_overdue_unless_completed() -> None:
    state = _scheduled()
    assert domain.decide_due(state, T0 + timedelta(days=2)) == []
    assert domain.decide_due(state, T0 + timedelta(days=3)) == [FollowupDue(case_id="c-1", peer_ref="p-1")]
    due = domain.evolve_followup(state, FollowupDue(case_id="c-1", peer_ref="p-1"))
    assert domain.decide_due(due, T0 + timedelta(days=4)) == []
    grace = timedelta(days=2)
    assert domain.decide_overdue(due, T0 + timedelta(days=4), grace) == []
    assert domain.decide_overdue(due, T0 + timedelta(days=5), grace) == [
        FollowupOverdue(case_id="c-1", peer_ref="p-1")
    ]
    done = domain.evolve_followup(due, domain.complete_followup(due, "p-1")[0])
    assert domain.decide_overdue(done, T0 + timedelta(days=9), grace) == []
    with pytest.raises(domain.Rejected):
        domain.complete_followup(done, "p-1")
    with pytest.raises(domain.Rejected):
        domain.complete_followup(due, "p-2")


def test_overdue_on_a_followup_never_marked_due_marks_it_due_on_the_way() -> None:
    events = domain.decide_overdue(_scheduled(), T0 + timedelta(days=6), timedelta(days=2))
    assert [type(e) for e in events] == [FollowupDue, FollowupOverdue]


def _offer(flags: IncidentFlags, state: domain.Debrief = domain.Debrief()) -> list[domain.Event]:
    return domain.offer_debrief(
        state,
        incident_agency="cfd",
        incident_id="i-1",
        reported_at=T0,
        flags=flags,
        person=Involved(member_ref="m-1", agency="cfd", role="dispatcher"),
        policy=AgencyPolicy(),
    )


def test_the_most_serious_flag_picks_the_offer_type_and_window() -> None:
    (lodd,) = _offer(IncidentFlags(line_of_duty_death=True, child_victim=True))
    assert isinstance(lodd, DebriefOffered) and lodd.offer_type == "debrief" and lodd.role == "dispatcher"
    assert lodd.window_opens == (T0 + timedelta(hours=24)).isoformat()
    assert lodd.window_closes == (T0 + timedelta(hours=72)).isoformat()
    (child,) = _offer(IncidentFlags(child_victim=True))
    assert isinstance(child, DebriefOffered) and child.offer_type == "defusing"
    (other,) = _offer(IncidentFlags())
    assert isinstance(other, DebriefOffered) and other.offer_type == "check_in"


def test_a_person_is_offered_once_and_answers_once() -> None:
    (offered,) = _offer(IncidentFlags(mayday=True))
    state = domain.evolve_debrief(domain.Debrief(), offered)
    assert _offer(IncidentFlags(mayday=True), state) == []
    assert domain.debrief_id("cfd", "i-1", "m-1") == domain.debrief_id("cfd", "i-1", "m-1")
    assert domain.debrief_id("cfd", "i-1", "m-1") != domain.debrief_id("cfd", "i-1", "m-2")
    with pytest.raises(domain.Rejected):
        domain.answer_debrief(state, "m-2", True, T0)
    accepted = domain.evolve_debrief(state, domain.answer_debrief(state, "m-1", True, T0)[0])
    assert accepted.status == "accepted" and isinstance(
        domain.answer_debrief(state, "m-1", True, T0)[0], DebriefAccepted
    )
    with pytest.raises(domain.Rejected):
        domain.answer_debrief(accepted, "m-1", False, T0)
    with pytest.raises(domain.Rejected):
        domain.answer_debrief(state, "m-1", True, T0 + timedelta(days=4))  # window closed


def test_exposure_checkin_at_the_threshold_once_per_window() -> None:
    policy = AgencyPolicy(exposure_threshold=3, exposure_window=timedelta(days=90))
    assert domain.decide_exposure(domain.Exposure(), "m-1", 2, T0, policy) == []
    (offer,) = domain.decide_exposure(domain.Exposure(), "m-1", 3, T0, policy)
    assert offer == ExposureCheckinOffered(member_ref="m-1", incidents_in_window=3, window_days=90)
    state = domain.evolve_exposure(domain.Exposure(), offer, T0)
    assert domain.decide_exposure(state, "m-1", 4, T0 + timedelta(days=30), policy) == []
    assert len(domain.decide_exposure(state, "m-1", 4, T0 + timedelta(days=90), policy)) == 1


def test_policy_file_is_per_agency_with_a_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "policy.json"
    path.write_text(
        '{"default": {"followup_after": ["P3D", "P30D"]},'
        ' "agencies": {"cfd": {"max_active_cases": 2, "followup_after": ["PT2S"], "cool_down": 60}}}'
    )
    policies = Policies.load(path)
    assert policies.of("cfd").max_active_cases == 2 and policies.of("cfd").followup_after == (
        timedelta(seconds=2),
    )
    assert policies.of("cfd").cool_down == timedelta(seconds=60)
    assert policies.of("other").followup_after == (timedelta(days=3), timedelta(days=30))
    path.write_text(
        '{"default": {"debrief_rules": {"ufo_sighting": {"offer_type": "debrief", "closes_after": 60}}}}'
    )
    with pytest.raises(ValueError, match="ufo_sighting"):
        Policies.load(path)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"exposure_threshold": 10**30}, "exposure_threshold"),
        ({"max_active_cases": 0}, "max_active_cases"),
        ({"exposure_window": "P100000D"}, "exposure_window"),
        ({"followup_after": ["P9999D"]}, "followup_after"),
        ({"cool_down": -60}, "cool_down"),
        ({"debrief_default": {"offer_type": "check_in", "closes_after": 10**12}}, "closes_after"),
    ],
)
def test_every_count_and_duration_of_the_policy_is_bounded(tmp_path, entry, field) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"agencies": {"cfd": entry}}))
    with pytest.raises(ValueError, match=field):
        Policies.load(path)
