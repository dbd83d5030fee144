"""Every wellness route × every role: who may call what, only in their own agency, only about themselves
where the route is personal; exposure is for the responder and the peer team, never for leadership."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from services.wellness.domain import debrief_id, followup_id
from shared.auth import ROLES, RoleGuard, mint
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, Involved
from shared.contracts.matching import PeerEnrolled
from shared.contracts.tracking import ContactLogged

from .conftest import POLICY, Rig

pytestmark = pytest.mark.integration
A, B = "riverton-fire", "riverton-police"
OFFER = debrief_id(A, "i-1", "m-1")
FOLLOWUP = followup_id("c-1", 1)
# (method, path) -> url, body (an allowed caller uses the sub in SUB)
SAMPLES: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    ("GET", "/v1/agencies/{agency}/peers/{peer_ref}/load"): (f"/v1/agencies/{A}/peers/p-1/load", None),
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/break"): (f"/v1/agencies/{A}/peers/p-1/break", {}),
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/break/end"): (
        f"/v1/agencies/{A}/peers/p-1/break/end",
        None,
    ),
    ("GET", "/v1/agencies/{agency}/offers/mine"): (f"/v1/agencies/{A}/offers/mine", None),
    ("GET", "/v1/agencies/{agency}/thresholds"): (f"/v1/agencies/{A}/thresholds", None),
    ("POST", "/v1/agencies/{agency}/offers/{offer_id}/accept"): (
        f"/v1/agencies/{A}/offers/{OFFER}/accept",
        None,
    ),
    ("POST", "/v1/agencies/{agency}/offers/{offer_id}/decline"): (
        f"/v1/agencies/{A}/offers/{OFFER}/decline",
        None,
    ),
    ("GET", "/v1/agencies/{agency}/followups/mine"): (f"/v1/agencies/{A}/followups/mine", None),
    ("POST", "/v1/agencies/{agency}/followups/{followup_id}/complete"): (
        f"/v1/agencies/{A}/followups/{FOLLOWUP}/complete",
        None,
    ),
    ("GET", "/v1/agencies/{agency}/followups/overdue"): (f"/v1/agencies/{A}/followups/overdue", None),
    ("GET", "/v1/agencies/{agency}/incidents/uptake"): (f"/v1/agencies/{A}/incidents/uptake", None),
    ("GET", "/v1/agencies/{agency}/members/{member_ref}/exposure"): (
        f"/v1/agencies/{A}/members/m-1/exposure",
        None,
    ),
}
SUB = {"peer": "p-1", "member": "m-1"}
CONFIGURATION = ("GET", "/v1/agencies/{agency}/thresholds")  # configuration, not anyone's state


def bearer(rig: Rig, role: str, agency: str = A, sub: str | None = None) -> dict[str, str]:
    token = mint(rig.private_key, role=role, agency=agency, sub=sub or SUB.get(role, f"u-{role}"))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


async def populate(rig: Rig) -> None:
    await rig.publish(PeerEnrolled(discipline="fire", member_ref="m-peer"), A, "p-1")
    cad = CriticalIncidentReported(
        incident_type="cardiac arrest",
        agencies=(A,),
        flags=IncidentFlags(failed_resuscitation=True),
        involved=(Involved(member_ref="m-1", agency=A, role="responder"),),
    )
    await rig.publish(cad, A, "i-1")
    contact = ContactLogged(
        peer_ref="p-1", week="2026-W02", mode="phone", categories=("grief",), duration="under_15m"
    )
    await rig.publish(contact, A, "c-1")
    await rig.settle()
    rig.clock.advance(days=5)  # the first follow-up is due and past its grace
    await rig.settle()


def guarded(rig: Rig) -> dict[tuple[str, str], tuple[str, ...]]:
    out = {}
    for route in rig.app.api.routes:
        if isinstance(route, APIRoute):
            for dep in route.dependant.dependencies:
                if isinstance(dep.call, RoleGuard):
                    out.update({(m, route.path): dep.call.roles for m in route.methods})
    return out


async def test_every_route_admits_exactly_its_roles_in_their_agency(rig: Rig) -> None:
    await populate(rig)
    routes = guarded(rig)
    assert set(routes) == set(SAMPLES), "every guarded route needs a sample here"
    paths = {r.path for r in rig.app.api.routes if isinstance(r, APIRoute)}
    assert paths - {p for _, p in routes} == {"/healthz"}, "a route without a role guard"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://w") as http:
        for (method, path), allowed in routes.items():
            if (method, path) != CONFIGURATION:  # no leadership view of anyone's state
                assert "leader" not in allowed and "regional_admin" not in allowed, path
            url, body = SAMPLES[(method, path)]
            assert (await http.request(method, url, json=body)).status_code == 401
            for role in ROLES:
                r = await http.request(method, url, json=body, headers=bearer(rig, role))
                if role in allowed:
                    assert r.status_code not in (401, 403, 404, 422), (method, path, role, r.text)
                    other = await http.request(method, url, json=body, headers=bearer(rig, role, agency=B))
                    reaches = role == "regional_admin"  # the region's configuration, every agency's
                    assert (other.status_code == 403) != reaches, (method, path, role, "other agency")
                else:
                    assert r.status_code == 403, (method, path, role, r.text)


async def test_members_and_peers_act_only_on_their_own(rig: Rig) -> None:
    await populate(rig)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://w") as http:
        mine = (await http.get(f"/v1/agencies/{A}/offers/mine", headers=bearer(rig, "member"))).json()
        assert [(o["offer_id"], o["offer_type"], o["status"]) for o in mine] == [
            (OFFER, "check_in", "offered")
        ]
        stranger = bearer(rig, "member", sub="m-2")
        assert (await http.get(f"/v1/agencies/{A}/offers/mine", headers=stranger)).json() == []
        assert (
            await http.post(f"/v1/agencies/{A}/offers/{OFFER}/accept", headers=stranger)
        ).status_code == 404
        r = await http.post(f"/v1/agencies/{A}/offers/{OFFER}/decline", headers=bearer(rig, "member"))
        assert r.status_code == 202
        r = await http.post(f"/v1/agencies/{A}/offers/{OFFER}/accept", headers=bearer(rig, "member"))
        assert r.status_code == 409  # answered already

        overdue = (
            await http.get(f"/v1/agencies/{A}/followups/overdue", headers=bearer(rig, "coordinator"))
        ).json()
        assert [(f["followup_id"], f["peer_ref"], f["status"]) for f in overdue] == [
            (FOLLOWUP, "p-1", "overdue")
        ]
        url = f"/v1/agencies/{A}/followups/{FOLLOWUP}/complete"
        assert (await http.post(url, headers=bearer(rig, "peer", sub="p-2"))).status_code == 404
        assert (await http.post(url, headers=bearer(rig, "peer"))).status_code == 202
        assert (await http.post(url, headers=bearer(rig, "peer"))).status_code == 409
        await rig.settle()
        assert (
            await http.get(f"/v1/agencies/{A}/followups/overdue", headers=bearer(rig, "coordinator"))
        ).json() == []
        uptake = (
            await http.get(f"/v1/agencies/{A}/incidents/uptake", headers=bearer(rig, "coordinator"))
        ).json()
        assert [(u["offered"], u["accepted"], u["declined"]) for u in uptake] == [(1, 0, 1)]
        assert "member_ref" not in str(uptake), "counts only, never who"
        load = await http.get(f"/v1/agencies/{A}/peers/p-1/load", headers=bearer(rig, "peer", sub="p-2"))
        assert load.status_code == 403


async def test_exposure_is_for_the_responder_and_the_peer_team_never_leadership(rig: Rig) -> None:
    await populate(rig)
    url = f"/v1/agencies/{A}/members/m-1/exposure"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://w") as http:
        for role in ("member", "peer", "coordinator"):
            r = await http.get(url, headers=bearer(rig, role))
            assert r.status_code == 200 and r.json()["incidents_in_window"] == 1, (role, r.text)
        for role in ("leader", "regional_admin"):
            assert (await http.get(url, headers=bearer(rig, role))).status_code == 403
            assert (await http.get(url, headers=bearer(rig, role, agency=B))).status_code == 403
        assert (await http.get(url, headers=bearer(rig, "member", sub="m-2"))).status_code == 403


async def test_no_one_reads_the_exposure_of_another_agency_s_member(rig: Rig) -> None:
    await populate(rig)  # m-1 is a responder of riverton-fire (A)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://w") as http:
        for role in ("peer", "coordinator"):
            r = await http.get(f"/v1/agencies/{B}/members/m-1/exposure", headers=bearer(rig, role, agency=B))
            assert r.status_code == 200, (role, r.text)
            assert (r.json()["incidents_in_window"], r.json()["checkins_offered"]) == (0, 0)


async def test_an_agency_s_thresholds_are_read_back_for_the_regional_admin(
    rig: Rig,
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app.api), base_url="http://w") as http:
        r = await http.get(f"/v1/agencies/{A}/thresholds", headers=bearer(rig, "regional_admin", B))
        assert r.status_code == 200, r.text
        assert r.json()["max_active_cases"] == POLICY.max_active_cases  # the rig's policy, for every agency
        assert set(r.json()["debrief_rules"]) == set(POLICY.debrief_rules)
        r = await http.get(f"/v1/agencies/{A}/thresholds", headers=bearer(rig, "leader"))
        assert r.status_code == 403
