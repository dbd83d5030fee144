"""Every intake route × every role, through HTTP: who may call what, and never across agencies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.auth import ROLES, RoleGuard

from .conftest import World
from .test_meet import accepted_with_callback

pytestmark = pytest.mark.integration
A, B = "riverton-fire", "riverton-police"
OPEN_ROUTES = {
    "/healthz",
    "/v1/requests/{case_id}",
    "/v1/requests/{case_id}/cancel",
    "/v1/requests/{case_id}/callback",
    "/v1/agencies/{agency}/public",  # published help (advisement, crisis lines, resources): anyone
}  # the member, by case token (or their own login)
WEBHOOK = {"format": "peerline-webhook/1", "incident_id": "W-1", "type": "LODD", "units": []}


def guarded(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...]]:
    out = {}
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for dep in route.dependant.dependencies:
            if isinstance(dep.call, RoleGuard):
                for method in route.methods:
                    out[(method, route.path)] = dep.call.roles
    return out


async def member(world: World, name: str) -> str:
    r = await world.client.post(
        "/v1/members", json={"agency": A, "identity": {"name": name}}, headers=world.auth("coordinator", A)
    )
    return str(r.json()["member_ref"])


async def test_every_route_admits_exactly_its_roles_and_only_in_their_agency(world: World) -> None:
    mapped, erased = await member(world, "Roster Person"), await member(world, "Erased Person")
    samples: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/requests"): {"url": "/v1/requests", "json": {"agency": A, "activation": "self"}},
        ("GET", "/v1/agencies/{agency}/cases"): {"url": f"/v1/agencies/{A}/cases"},
        ("GET", "/v1/agencies/{agency}/advisement"): {"url": f"/v1/agencies/{A}/advisement"},
        ("GET", "/v1/agencies/{agency}/configuration"): {"url": f"/v1/agencies/{A}/configuration"},
        ("POST", "/v1/members"): {"url": "/v1/members", "json": {"agency": A, "identity": {"name": "N"}}},
        ("PUT", "/v1/agencies/{agency}/roster"): {
            "url": f"/v1/agencies/{A}/roster",
            "json": {"entries": [{"cad_id": "RFD-1", "member_ref": mapped}]},
        },
        ("POST", "/v1/agencies/{agency}/roster/lookup"): {
            "url": f"/v1/agencies/{A}/roster/lookup",
            "json": {"cad_ids": ["RFD-1"]},
        },
        ("DELETE", "/v1/members/{member_ref}/identity"): {"url": f"/v1/members/{erased}/identity"},
        ("POST", "/v1/cad/incidents"): {"url": f"/v1/cad/incidents?agency={A}", "json": WEBHOOK},
        ("GET", "/v1/agencies/{agency}/cases/{case_id}/callback"): {
            "url": f"/v1/agencies/{A}/cases/{await accepted_with_callback(world, 'p-walk')}/callback",
            "sub": "p-walk",  # only the peer who accepted the case
        },
    }
    app: FastAPI = world.intake.api
    routes = guarded(app)
    assert set(routes) == set(samples), "every guarded route needs a sample request in this test"
    all_paths = {r.path for r in app.routes if isinstance(r, APIRoute)}
    assert all_paths - {p for _, p in routes} == OPEN_ROUTES, "a route without a role guard"
    client = world.client
    for (method, path), allowed in routes.items():
        sample = samples[(method, path)]
        r = await client.request(method, sample["url"], json=sample.get("json"))
        assert r.status_code == 401, (method, path, "no token")
        for role in ROLES:
            r = await client.request(
                method, sample["url"], json=sample.get("json"), headers=world.auth(role, A, sample.get("sub"))
            )
            if role not in allowed:
                assert r.status_code == 403, (method, path, role, r.text)
                continue
            assert r.status_code < 300, (method, path, role, r.text)
            r = await client.request(
                method, sample["url"], json=sample.get("json"), headers=world.auth(role, B, sample.get("sub"))
            )
            if role == "regional_admin":
                assert r.status_code < 300, (method, path, role, "B", r.text)
            else:
                assert r.status_code == 403, (method, path, role, "B")


async def test_openapi_documents_every_route_and_the_cad_formats(world: World) -> None:
    r = await world.client.get("/openapi.json")
    doc = r.json()
    assert {"/v1/requests", "/v1/cad/incidents", "/v1/members/{member_ref}/identity"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    assert {"EidoDocument", "WebhookIncident", "Advisement"} <= set(schemas)


async def test_an_agency_s_trigger_rules_and_code_lists_are_read_back(world: World) -> None:
    r = await world.client.get(
        f"/v1/agencies/{A}/configuration", headers=world.auth("regional_admin", "region")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["agency"] == A and "line_of_duty_death" in body["triggers"]["flags"]
    assert body["triggers"]["type_flags"]["lodd"] == ["line_of_duty_death"]
    assert body["codes"]["units"] == ["station-4", "station-7"] and "fire" in body["codes"]["disciplines"]
    r = await world.client.get(f"/v1/agencies/{A}/configuration", headers=world.auth("leader", A))
    assert r.status_code == 403
