"""Peer load: over a threshold → overloaded; recovered only after the load falls AND the cool-down passes;
breaks at the peer's word; every state explained to the peer and the coordinator."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from shared.auth import mint
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, Involved
from shared.contracts.matching import PeerAssigned, PeerEnrolled
from shared.contracts.tracking import CaseClosed

from .conftest import Rig

pytestmark = pytest.mark.integration
A = "riverton-fire"


async def peer_events(rig: Rig, peer: str) -> list[str]:
    return [e.event_name for e in await rig.events(f"ev.{A}.peer.{peer}.>")]


def client(rig: Rig) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://wellness")


def bearer(rig: Rig, role: str, sub: str, agency: str = A) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(rig.private_key, role=role, agency=agency, sub=sub)}"}  # type: ignore[arg-type]


async def test_overload_then_recovery_after_load_falls_and_cool_down(rig: Rig) -> None:
    await rig.publish(PeerEnrolled(discipline="fire"), A, "p-1")
    await rig.publish(PeerAssigned(peer_ref="p-1", peer_agency=A), A, "c-1")
    await rig.settle()
    assert await rig.app.worker.sweep() == 0  # one case: under the threshold of two
    await rig.publish(PeerAssigned(peer_ref="p-1", peer_agency=A), A, "c-2")
    await rig.settle()
    assert await rig.app.worker.sweep() == 1
    assert await rig.app.worker.sweep() == 0  # decided once
    overloaded = (await rig.events(f"ev.{A}.peer.p-1.peer_overloaded"))[0].payload()
    assert overloaded.reasons == ("active_cases 2 >= 2",)  # type: ignore[attr-defined]

    await rig.publish(CaseClosed(), A, "c-1")
    await rig.settle()
    rig.clock.advance(minutes=30)
    assert await rig.app.worker.sweep() == 0  # load is down, but the cool-down has not passed
    async with client(rig) as http:
        r = await http.get(f"/v1/agencies/{A}/peers/p-1/load", headers=bearer(rig, "peer", "p-1"))
        assert r.status_code == 200, r.text
        view = r.json()
        assert view["status"] == "overloaded" and view["active_cases"] == 1
        assert "cool-down" in view["reasons"][0] and view["cool_down_until"]
    rig.clock.advance(minutes=30)
    assert await rig.app.worker.sweep() == 1
    await rig.settle()
    assert await peer_events(rig, "p-1") == ["peer_enrolled", "peer_overloaded", "peer_recovered"]
    async with client(rig) as http:
        r = await http.get(f"/v1/agencies/{A}/peers/p-1/load", headers=bearer(rig, "coordinator", "u-c"))
        assert r.json()["status"] == "available" and r.json()["thresholds"]["active_cases"] == 2


async def test_incidents_the_peer_was_on_personally_count(rig: Rig) -> None:
    await rig.publish(PeerEnrolled(discipline="fire", member_ref="m-peer"), A, "p-2")
    for n in (1, 2):
        cad = CriticalIncidentReported(
            incident_type="mvc",
            agencies=(A,),
            flags=IncidentFlags(child_victim=True),
            involved=(Involved(member_ref="m-peer", agency=A, role="responder"),),
        )
        await rig.publish(cad, A, f"i-{n}")
    await rig.settle()
    assert await rig.app.worker.sweep() == 1
    reasons = (await rig.events(f"ev.{A}.peer.p-2.peer_overloaded"))[0].payload().reasons  # type: ignore[attr-defined]
    assert reasons == ("personal_incidents_30d 2 >= 2",)
    await rig.settle()
    rig.clock.advance(days=31)  # the incidents leave the window, the cool-down is long past
    assert await rig.app.worker.sweep() == 1
    assert (await peer_events(rig, "p-2"))[-1] == "peer_recovered"


async def test_a_peer_takes_and_ends_their_own_break_only(rig: Rig) -> None:
    await rig.publish(PeerEnrolled(discipline="ems"), A, "p-3")
    await rig.settle()
    until = (rig.clock.now() + timedelta(days=1)).isoformat()
    async with client(rig) as http:
        url = f"/v1/agencies/{A}/peers/p-3/break"
        assert (await http.post(url, json={}, headers=bearer(rig, "peer", "p-other"))).status_code == 403
        assert (
            await http.post(url, json={"until": "soon"}, headers=bearer(rig, "peer", "p-3"))
        ).status_code == 422
        r = await http.post(url, json={"until": until}, headers=bearer(rig, "peer", "p-3"))
        assert r.status_code == 202, r.text
        assert (await http.post(url, json={}, headers=bearer(rig, "peer", "p-3"))).status_code == 409
        await rig.settle()
        r = await http.get(f"/v1/agencies/{A}/peers/p-3/load", headers=bearer(rig, "coordinator", "u"))
        assert r.json()["status"] == "on_break" and r.json()["break_until"]
        r = await http.post(f"{url}/end", headers=bearer(rig, "peer", "p-3"))
        assert r.status_code == 202
        await http.post(url, json={"until": until}, headers=bearer(rig, "peer", "p-3"))
    await rig.settle()
    rig.clock.advance(days=1)
    assert await rig.app.worker.sweep() == 1  # the timed break ends by itself
    assert await peer_events(rig, "p-3") == [
        "peer_enrolled",
        "peer_break_requested",
        "peer_break_ended",
        "peer_break_requested",
        "peer_break_ended",
    ]
