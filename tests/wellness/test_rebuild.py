"""Wellness's view, timers included, is a function of the log: a replay equals the live view."""

from __future__ import annotations

import pytest

from services.wellness.projection import WellnessProjection
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, IncidentFlagsRaised, Involved
from shared.contracts.matching import PeerAssigned, PeerEnrolled
from shared.contracts.tracking import ContactLogged
from shared.db import make_engine
from shared.projection import digest
from shared.replay import rebuild
from shared.topology import consumer

from .conftest import Rig

pytestmark = pytest.mark.integration
A = "county-ems"


async def test_rebuilt_view_and_timers_equal_the_live_ones(rig: Rig) -> None:
    await rig.publish(PeerEnrolled(discipline="ems", member_ref="m-p"), A, "p-1")
    for case in ("c-1", "c-2", "c-3"):
        await rig.publish(PeerAssigned(peer_ref="p-1", peer_agency=A), A, case)
        contact = ContactLogged(
            peer_ref="p-1", week="2026-W02", mode="text", categories=("other",), duration="under_15m"
        )
        await rig.publish(contact, A, case)
    for n in range(3):
        people = (
            Involved(member_ref="m-p", agency=A, role="responder"),
            Involved(member_ref=f"m-{n}", agency=A, role="dispatcher"),
        )
        cad = CriticalIncidentReported(
            incident_type="mci", agencies=(A,), flags=IncidentFlags(mass_casualty=True), involved=people
        )
        await rig.publish(cad, A, f"i-{n}")
    dead = Involved(member_ref="m-dead", agency="riverton-fire", role="responder", deceased=True)
    lodd = CriticalIncidentReported(
        incident_type="fire - structure",
        agencies=(A,),
        flags=IncidentFlags(line_of_duty_death=True),
        involved=(dead,),
    )
    await rig.publish(lodd, A, "i-lodd")  # an alert instead of an offer: settled in the replay too
    await rig.publish(
        IncidentFlagsRaised(flags=IncidentFlags(line_of_duty_death=True), deceased=("m-dead",)), A, "i-lodd"
    )
    await rig.settle()
    rig.clock.advance(days=3)
    await rig.settle()
    assert await rig.app.worker.sweep() == 1
    await rig.settle()
    live = digest(rig.app.engine, rig.app.projection)
    fresh = make_engine(f"sqlite:///{rig.tmp}/rebuilt.db")
    count = await rebuild(rig.js, fresh, WellnessProjection(rig.app.policies), consumer("wellness-view"))
    assert count > 20
    assert digest(fresh, WellnessProjection(rig.app.policies)) == live
    with rig.app.engine.connect() as conn:
        pending = conn.exec_driver_sql("select kind, count(*) from timers group by kind").all()
    assert dict(pending) == {"followup_due": 3, "followup_overdue": 6}  # n=2 not yet due; n=1 awaiting grace
