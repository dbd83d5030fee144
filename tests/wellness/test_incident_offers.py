"""What an offer says and to whom it goes: never to the dead (their coordinator is alerted instead),
a window counted from the report, the incident named by coded type and date only; and peers who joined
through application, selection and training are known to wellness like enrolled ones."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from services.wellness.domain import lodd_alert_id
from shared.auth import mint
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlags,
    IncidentFlagsRaised,
    IncidentRespondersAdded,
    Involved,
)
from shared.contracts.matching import PeerActivated, PeerApplied, PeerSelected
from shared.contracts.wellness import DebriefOffered, LineOfDutyDeathAlerted

from .conftest import Rig

pytestmark = pytest.mark.integration
A, B = "riverton-fire", "county-ems"


def person(ref: str, agency: str = A, deceased: bool = False) -> Involved:
    return Involved(member_ref=ref, agency=agency, role="responder", unit="E12", deceased=deceased)


def report(*people: Involved, occurred_at: str | None = None, **flags: bool) -> CriticalIncidentReported:
    return CriticalIncidentReported(
        incident_type="fire - structure",
        priority=1,
        agencies=(A,),
        flags=IncidentFlags(**flags),
        involved=people,
        occurred_at=occurred_at,
    )


async def offers(rig: Rig) -> list[DebriefOffered]:
    return [e.payload() for e in await rig.events("ev.*.debrief.*.debrief_offered")]  # type: ignore[misc]


async def alerts(rig: Rig) -> list[tuple[str, str, LineOfDutyDeathAlerted]]:
    found = await rig.events("ev.*.lodd_alert.>")
    return [(e.agency, e.subject, e.payload()) for e in found]  # type: ignore[misc]


async def test_the_firefighter_cad_marks_deceased_gets_no_offer_and_the_coordinator_an_alert(
    rig: Rig,
) -> None:
    crew = (person("m-1"), person("m-2"), person("m-dead", deceased=True))
    await rig.publish(report(*crew, line_of_duty_death=True), A, "i-lodd")
    await rig.settle()
    assert sorted(o.member_ref for o in await offers(rig)) == ["m-1", "m-2"]
    [(agency, subject, alert)] = await alerts(rig)
    assert agency == A and subject == lodd_alert_id(A, "i-lodd", A)
    assert alert.incident_id == "i-lodd" and alert.deceased == 1 and alert.incident_type == "fire - structure"
    assert not await rig.app.timers.tick()  # nothing left waiting


async def test_a_death_that_cad_records_later_alerts_once_and_never_offers_to_the_dead(rig: Rig) -> None:
    await rig.publish(report(person("m-1"), mayday=True), A, "i-may")
    await rig.settle()
    # a later update: a medic of another agency named, already deceased; then the first responder's death
    await rig.publish(IncidentRespondersAdded(involved=(person("m-ems", B, deceased=True),)), A, "i-may")
    await rig.publish(
        IncidentFlagsRaised(flags=IncidentFlags(line_of_duty_death=True), deceased=("m-1",)), A, "i-may"
    )
    await rig.publish(IncidentFlagsRaised(flags=IncidentFlags(), deceased=("m-1",)), A, "i-may")  # a repeat
    await rig.settle()
    assert [o.member_ref for o in await offers(rig)] == ["m-1"]  # offered before the death: not withdrawn
    found = sorted((agency, alert.deceased) for agency, _, alert in await alerts(rig))
    assert found == [(B, 1), (A, 1)]  # one alert per agency with a member CAD marks deceased


async def test_a_line_of_duty_death_with_nobody_on_a_roster_still_alerts_the_incident_agency(
    rig: Rig,
) -> None:
    await rig.publish(report(mayday=True), A, "i-unknown")
    await rig.publish(IncidentFlagsRaised(flags=IncidentFlags(line_of_duty_death=True)), A, "i-unknown")
    await rig.settle()
    [(agency, _, alert)] = await alerts(rig)
    assert agency == A and alert.incident_id == "i-unknown" and alert.deceased == 0
    assert await offers(rig) == []


async def test_the_offer_window_counts_from_the_report_not_from_an_old_incident_date(rig: Rig) -> None:
    now = rig.clock.now()
    old = (now - timedelta(days=30)).isoformat()  # CAD sends the report a month after the incident
    await rig.publish(report(person("m-1"), occurred_at=old, mayday=True), A, "i-old")
    await rig.settle()
    [offer] = await offers(rig)
    assert datetime.fromisoformat(offer.window_closes) > now  # the offer can still be taken up
    assert datetime.fromisoformat(offer.window_opens) >= now


async def test_each_offer_names_the_incident_by_coded_type_and_date_and_nothing_more(rig: Rig) -> None:
    await rig.publish(report(person("m-1"), occurred_at="2026-03-14T02:41:00-05:00"), A, "i-named")
    await rig.settle()
    [env] = await rig.events("ev.*.debrief.*.debrief_offered")
    offer = env.payload()
    assert isinstance(offer, DebriefOffered)
    assert offer.incident_type == "fire - structure" and offer.incident_date == "2026-03-14"
    incident_fields = {k for k in env.data if k.startswith("incident")}
    assert incident_fields == {"incident_id", "incident_agency", "incident_type", "incident_date"}


async def test_a_peer_who_joined_by_application_has_a_load_and_may_take_a_break(rig: Rig) -> None:
    await rig.publish(PeerApplied(discipline="fire", member_ref="m-peer"), A, "p-new")
    await rig.publish(PeerSelected(), A, "p-new")
    await rig.publish(PeerActivated(), A, "p-new")
    await rig.settle()
    token = mint(rig.private_key, role="peer", agency=A, sub="p-new")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://w") as http:
        load = await http.get(f"/v1/agencies/{A}/peers/p-new/load", headers=auth)
        assert load.status_code == 200, load.text
        assert load.json()["active_cases"] == 0
        pause = await http.post(f"/v1/agencies/{A}/peers/p-new/break", json={}, headers=auth)
        assert pause.status_code == 202, pause.text
