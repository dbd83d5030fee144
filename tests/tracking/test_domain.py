"""Tracking's case rules as given events / when command / then events, on plain data."""

from __future__ import annotations

import pytest

from services.tracking import domain
from shared.contracts.base import Event
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.contracts.matching import AssignmentAccepted, AssignmentDeclined, PeerAssigned, RequestUnmatched
from shared.contracts.tracking import CaseClosed, ContactLogged

pytestmark = pytest.mark.unit
NOW = "2026-W10"
PEER = domain.Reporter(peer_ref="p-1", agency="cfd")
CONTACT = domain.LogContact(
    mode="phone", categories=("grief", "grief", "critical_incident"), duration="15_30m"
)


def requested() -> Event:
    return SupportRequested(activation="self", member_ref="m-1", token_hash="0" * 64)


def assigned(peer: str = "p-1", agency: str = "cfd") -> Event:
    return PeerAssigned(peer_ref=peer, peer_agency=agency)


def when(given: list[Event], by: domain.Reporter = PEER, cmd: domain.LogContact = CONTACT) -> list[Event]:
    return domain.log_contact(domain.fold(given), by, cmd, current_week=NOW)


def test_the_assigned_peer_reports_a_contact_in_codes() -> None:
    [event] = when([requested(), assigned(), AssignmentAccepted(peer_ref="p-1")])
    assert event == ContactLogged(
        peer_ref="p-1",
        week=NOW,
        mode="phone",
        categories=("critical_incident", "grief"),
        duration="15_30m",
        initial=True,
    )


def test_a_later_contact_is_not_the_initial_one() -> None:
    [first] = when([requested(), assigned()])
    [second] = when([requested(), assigned(), first])
    assert isinstance(second, ContactLogged) and second.initial is False


@pytest.mark.parametrize(
    ("given", "by"),
    [
        ([requested(), assigned()], domain.Reporter("p-2", "cfd")),  # another peer
        ([requested(), assigned()], domain.Reporter("p-1", "cpd")),  # same sub, another agency
        ([requested()], PEER),  # nobody assigned yet
        ([requested(), assigned(), AssignmentDeclined(peer_ref="p-1")], PEER),
        ([requested(), assigned(), RequestUnmatched(reason="none fit")], PEER),
        ([requested(), assigned("p-1"), assigned("p-2")], PEER),  # reassigned away
    ],
)
def test_only_the_peer_currently_assigned_may_report(given: list[Event], by: domain.Reporter) -> None:
    with pytest.raises(domain.NotAssigned):
        when(given, by)


def test_a_decline_by_a_previous_peer_does_not_unassign_the_current_one() -> None:
    given = [requested(), assigned("p-2"), assigned("p-1"), AssignmentDeclined(peer_ref="p-2")]
    assert len(when(given)) == 1


@pytest.mark.parametrize(
    "given",
    [
        [requested(), assigned(), CaseClosed()],
        [requested(), assigned(), RequestCancelled()],
    ],
)
def test_no_contact_on_a_closed_or_cancelled_case(given: list[Event]) -> None:
    with pytest.raises(domain.Rejected):
        when(given)


def test_no_contact_on_a_case_that_does_not_exist() -> None:
    with pytest.raises(domain.NoSuchCase):
        when([])


@pytest.mark.parametrize("week", ["2026-W11", "2026-48", "2026-W00", "2026-W54"])
def test_the_week_must_be_a_past_or_current_iso_week(week: str) -> None:
    cmd = domain.LogContact(mode="text", categories=("other",), duration="under_15m", week=week)
    with pytest.raises(domain.Rejected, match="week"):
        when([requested(), assigned()], cmd=cmd)


def test_a_contact_names_at_least_one_category() -> None:
    cmd = domain.LogContact(mode="text", categories=(), duration="under_15m")
    with pytest.raises(domain.Rejected, match="categories"):
        when([requested(), assigned()], cmd=cmd)


def test_a_coordinator_closes_an_open_case_once() -> None:
    case = domain.fold([requested()])
    assert domain.close_case(case, "referred") == [CaseClosed(by="coordinator", outcome="referred")]
    with pytest.raises(domain.Rejected):
        domain.close_case(domain.fold([requested(), CaseClosed()]), "supported")
    with pytest.raises(domain.NoSuchCase):
        domain.close_case(domain.fold([]), "supported")
