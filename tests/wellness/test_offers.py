"""Critical incidents → one voluntary debrief offer per crew member and call-taker/dispatcher, ever;
cumulative exposure → a check-in for the responder."""

from __future__ import annotations

from collections import Counter

import pytest

from services.wellness.domain import debrief_id, exposure_id
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, IncidentRespondersAdded, Involved
from shared.contracts.wellness import DebriefOffered, ExposureCheckinOffered

from .conftest import Rig

pytestmark = pytest.mark.integration
A = "riverton-fire"


def crew(*refs: str, role: str = "responder", agency: str = A) -> tuple[Involved, ...]:
    return tuple(Involved(member_ref=r, agency=agency, role=role, unit="e-7") for r in refs)  # type: ignore[arg-type]


def incident(*people: Involved, **flags: bool) -> CriticalIncidentReported:
    return CriticalIncidentReported(
        incident_type="structure fire",
        priority=1,
        agencies=(A,),
        flags=IncidentFlags(**flags),
        involved=people,
        occurred_at=None,
    )


async def offers(rig: Rig) -> list[DebriefOffered]:
    out = []
    for env in await rig.events("ev.*.debrief.*.debrief_offered"):
        payload = env.payload()
        assert isinstance(payload, DebriefOffered)
        out.append(payload)
    return out


async def test_every_crew_member_and_dispatcher_gets_one_offer_and_updates_add_none(rig: Rig) -> None:
    people = (
        *crew("m-a1", "m-a2", "m-a3"),
        *crew("m-ct", role="call_taker"),
        *crew("m-dp", role="dispatcher"),
        *crew("m-mutual", agency="riverton-police"),
    )
    cad = await rig.publish(incident(*people, line_of_duty_death=True), A, "i-100")
    await rig.settle()
    got = await offers(rig)
    assert Counter(o.member_ref for o in got) == Counter(p.member_ref for p in people)
    assert {o.offer_type for o in got} == {"debrief"}
    assert {o.role for o in got} == {"responder", "call_taker", "dispatcher"}
    envs = await rig.events("ev.*.debrief.*.debrief_offered")
    assert {e.correlationid for e in envs} == {cad.id}  # the trail leads back to the CAD event
    police = [e for e in envs if e.payload().member_ref == "m-mutual"]  # type: ignore[attr-defined]
    assert police[0].agency == "riverton-police"  # the offer lives in the member's own agency
    assert police[0].subject == debrief_id(A, "i-100", "m-mutual")

    # an update naming two known people and one new; a repeated report of the whole incident
    await rig.publish(
        IncidentRespondersAdded(involved=(*crew("m-a1", "m-new"), *crew("m-dp", role="dispatcher"))),
        A,
        "i-100",
    )
    await rig.publish(incident(*people, line_of_duty_death=True), A, "i-100")
    await rig.settle()
    got = await offers(rig)
    assert Counter(o.member_ref for o in got) == Counter([p.member_ref for p in people] + ["m-new"])
    assert not await rig.app.timers.tick()  # nothing left waiting


async def test_a_restart_between_offers_never_offers_twice(rig: Rig) -> None:
    await rig.publish(incident(*crew("m-1", "m-2", "m-3")), A, "i-200")
    await rig.view.catch_up()
    timers = await rig.app.timers.tick()  # offers made; the view has not seen them
    assert timers == 1
    again = await rig.restarted()
    rig.clock.advance(minutes=1)  # past the retry interval: the timer fires again, before the view
    assert await again.app.timers.tick() == 1  # has caught up with the offers it made
    await again.settle()
    got = await offers(again)
    assert sorted(o.member_ref for o in got) == ["m-1", "m-2", "m-3"]
    assert {o.offer_type for o in got} == {"check_in"}


async def test_crossing_the_exposure_threshold_offers_one_checkin_per_window(rig: Rig) -> None:
    await rig.publish(incident(*crew("m-x", "m-y")), A, "i-301")
    await rig.settle()
    assert await rig.events("ev.*.exposure.>") == []
    rig.clock.advance(days=10)
    await rig.publish(incident(*crew("m-x"), mayday=True), A, "i-302")
    await rig.settle()
    rig.clock.advance(days=10)
    await rig.publish(incident(*crew("m-x")), A, "i-303")
    await rig.settle()
    checkins = await rig.events("ev.*.exposure.>")
    assert len(checkins) == 1 and checkins[0].subject == exposure_id("m-x")
    payload = checkins[0].payload()
    assert isinstance(payload, ExposureCheckinOffered)
    assert payload.member_ref == "m-x" and payload.incidents_in_window == 2 and payload.window_days == 90
