"""Matching policy, given/when/then on plain data: each hard constraint, the scoring, the explanation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.matching import domain
from services.matching.domain import Case, Context
from services.matching.domain.peers import Peer, Policy
from shared.contracts.intake import Preferences, SupportRequested
from shared.contracts.matching import AvailabilityWindow, PeerAssigned

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
A, B = "riverton-fire", "riverton-police"


def ready(ref: str, agency: str = A, **kw: object) -> Peer:
    """An active, acknowledged, on-duty, recently confirmed peer."""
    base = Peer(
        ref,
        agency,
        discipline="fire",
        member_ref=f"m-{ref}",
        stage="active",
        acknowledged=True,
        on_duty=True,
        confirmed_at=NOW - timedelta(days=1),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def requested(**kw: object) -> Case:
    event = SupportRequested(activation="self", member_ref="m-req", token_hash="h" * 64, **kw)  # type: ignore[arg-type]
    return domain.evolve(Case(case_id="c-1"), event, A, "c-1")


def ctx(**kw: object) -> Context:
    return Context(NOW, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peer", "case", "context", "reason"),
    [
        (ready("p1", stage="applicant"), requested(), ctx(), "not_active"),
        (ready("p1", stage="deselected"), requested(), ctx(), "not_active"),
        (ready("p1", acknowledged=False), requested(), ctx(), "not_acknowledged"),
        (ready("p1", member_ref="m-req"), requested(), ctx(), "is_the_member"),
        (ready("p1"), requested(incident_ref="i-1"), ctx(witnesses=frozenset({"m-p1"})), "witness"),
        (ready("p1"), requested(supervisor_refs=("m-p1",)), ctx(), "chain_of_command"),
        (ready("p1", supervisor_refs=("m-req",)), requested(), ctx(), "supervised_by_member"),
        (ready("p1", agency=B), requested(), ctx(), "agency_scope"),
        (ready("p1"), requested(preferences=Preferences(agency_scope="other")), ctx(), "agency_scope"),
        (ready("p1"), replace(requested(), tried=frozenset({"p1"})), ctx(), "declined_or_expired"),
        (ready("p1", overloaded=True), requested(), ctx(), "overloaded"),
        (ready("p1", break_until=NOW + timedelta(hours=1)), requested(), ctx(), "on_break"),
        (ready("p1", on_duty=False), requested(), ctx(), "off_duty"),
        (
            ready("p1", windows=(AvailabilityWindow(day=1, start="08:00", end="17:00"),)),
            requested(),
            ctx(),
            "outside_window",
        ),
        (ready("p1", confirmed_at=NOW - timedelta(days=91)), requested(), ctx(), "roster_unconfirmed"),
        (ready("p1", confirmed_at=None), requested(), ctx(), "roster_unconfirmed"),
    ],
)
def test_each_hard_constraint_excludes_the_peer(
    peer: Peer, case: Case, context: Context, reason: str
) -> None:
    assert domain.why_not(peer, case, context) == reason
    control_agency = B if case.preferences.agency_scope == "other" else A
    assert domain.why_not(ready("p2", control_agency, member_ref="m-other"), case, context) is None
    assert domain.assign(case, [peer], context)[0].name == "request_unmatched"


def test_an_eligible_peer_passes_every_constraint() -> None:
    p = ready("p1", windows=(AvailabilityWindow(day=0, start="08:00", end="17:00"),))
    assert domain.why_not(p, requested(), ctx()) is None
    ended = ready("p2", break_until=NOW - timedelta(minutes=1))
    assert domain.why_not(ended, requested(), ctx()) is None


def test_windows_are_read_in_the_peers_time_zone() -> None:
    # 09:00 UTC on Monday is 04:00 in New York: outside a 08:00-17:00 window there
    p = ready("p1", windows=(AvailabilityWindow(day=0, start="08:00", end="17:00"),), tz="America/New_York")
    assert domain.why_not(p, requested(), ctx()) == "outside_window"


def test_regional_pool_when_the_requester_allows_it() -> None:
    own, other = ready("p1"), ready("p2", agency=B)
    anywhere = requested(preferences=Preferences(agency_scope="any"))
    assert domain.why_not(own, anywhere, ctx()) is None and domain.why_not(other, anywhere, ctx()) is None
    elsewhere = requested(preferences=Preferences(agency_scope="other"))
    [event] = domain.assign(elsewhere, [own, other], ctx())
    assert isinstance(event, PeerAssigned) and event.peer_ref == "p2" and event.peer_agency == B


def test_fewest_active_cases_wins() -> None:
    busy, free = ready("p1", active_cases=2), ready("p2", active_cases=0)
    assert domain.choose(requested(), [busy, free], ctx()).peer == free


def test_recent_assignments_spread_the_work() -> None:
    tired, rested = ready("p1", recent_assignments=4), ready("p2", recent_assignments=0)
    assert domain.choose(requested(), [tired, rested], ctx()).peer == rested


def test_discipline_and_language_fit_count() -> None:
    fire, ems = ready("p1", discipline="fire"), ready("p2", discipline="ems")
    assert domain.choose(requested(discipline="ems"), [fire, ems], ctx()).peer == ems
    en, es = ready("p1", languages=("en",)), ready("p2", languages=("en", "es"))
    assert domain.choose(requested(preferences=Preferences(language="es")), [en, es], ctx()).peer == es
    # load still outweighs fit
    assert (
        domain.choose(requested(discipline="ems"), [fire, replace(ems, active_cases=2)], ctx()).peer == fire
    )


def test_equal_peers_share_a_burst_instead_of_one_taking_it() -> None:
    pool = [ready(f"p{n}") for n in range(5)]
    chosen = {
        domain.choose(replace(requested(), case_id=f"c-{n}"), pool, ctx()).peer.peer_ref for n in range(40)
    }  # type: ignore[union-attr]
    assert len(chosen) >= 4


def test_the_named_peer_is_honoured_when_available_and_otherwise_explained() -> None:
    named = requested(preferences=Preferences(peer_ref="p2"))
    p1, p2 = ready("p1"), ready("p2", active_cases=3)
    choice = domain.choose(named, [p1, p2], ctx())
    assert choice.peer == p2 and choice.because[0] == "the peer the requester named"
    fallback = domain.choose(named, [p1, replace(p2, on_duty=False)], ctx())
    assert fallback.peer == p1 and fallback.because[0] == "the named peer is not available"


def test_the_explanation_names_peers_but_hides_relations_to_the_member() -> None:
    case = requested(incident_ref="i-1", supervisor_refs=("m-p2",))
    pool = [ready("p1"), ready("p2"), ready("p3"), ready("p4", on_duty=False), ready("p5", agency=B)]
    [event] = domain.assign(case, pool, ctx(witnesses=frozenset({"m-p3"})))
    assert isinstance(event, PeerAssigned) and event.peer_ref == "p1"
    exp = event.explanation
    assert exp is not None and exp.considered == 5 and exp.ranked[0][0] == "p1"
    assert exp.excluded == {"conflict": ("p2", "p3"), "off_duty": ("p4",), "agency_scope": ("p5",)}
    assert "m-req" not in exp.model_dump_json() and "witness" not in exp.model_dump_json()


def test_the_offer_carries_the_agencys_response_deadline() -> None:
    [event] = domain.assign(requested(), [ready("p1")], ctx(policy=Policy(respond_within_minutes=10)))
    assert isinstance(event, PeerAssigned)
    assert event.respond_by == (NOW + timedelta(minutes=10)).isoformat()
    assert event.assignment_id == "c-1-a1"
