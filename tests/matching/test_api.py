"""Matching's HTTP API: the directory lifecycle, decline → reassignment, explanations, alerts, and the
route × role walk (who may call what, never across agencies)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from services.matching.main import Matching
from services.matching.projection import DirectoryProjection
from shared.auth import ROLES, RoleGuard, generate_dev_keys, mint
from shared.contracts.intake import SupportRequested
from shared.db import make_engine
from shared.envelope import Envelope, new_id
from shared.eventstore import EventStore
from shared.projection import digest
from shared.replay import rebuild
from shared.runner import ProjectionRunner
from shared.topology import consumer

pytestmark = pytest.mark.integration
A, B = "riverton-fire", "riverton-police"


class Client:
    def __init__(self, app: Matching, private_key: bytes) -> None:
        self.matching = app
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.api), base_url="http://matching")
        self.key = private_key

    async def call(
        self,
        method: str,
        url: str,
        role: str = "coordinator",
        agency: str = A,
        sub: str | None = None,
        **kw: Any,
    ) -> httpx.Response:
        token = mint(self.key, role=role, agency=agency, sub=sub)  # type: ignore[arg-type]
        return await self.http.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kw)


async def eventually(client: Client, url: str, check: Any, **kw: Any) -> Any:
    for _ in range(200):
        r = await client.call("GET", url, **kw)
        if r.status_code == 200 and check(r.json()):
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url}: {r.status_code} {r.text}")


async def new_peer(client: Client, agency: str = A, **body: Any) -> str:
    r = await client.call(
        "POST", f"/v1/agencies/{agency}/peers", agency=agency, json={"enrolled": True, **body}
    )
    assert r.status_code == 201, r.text
    ref = str(r.json()["peer_ref"])
    base = f"/v1/agencies/{agency}/peers/{ref}"
    r = await client.call(
        "POST", f"{base}/acknowledgement", "peer", agency, ref, json={"policy_version": "v1"}
    )
    assert r.status_code == 200, r.text
    r = await client.call("PUT", f"{base}/availability", "peer", agency, ref, json={"available": True})
    assert r.status_code == 200 and r.json()["on_duty"], r.text
    # The command answers from the peer's own events; the assigner decides on the directory view, which
    # may not have applied them yet. A request arriving before that finds nobody on duty, as it should.
    await eventually(client, base, lambda card: card["on_duty"], agency=agency)
    return ref


async def request_support(js: Any, agency: str = A) -> str:
    case_id = new_id("c")
    event = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    await EventStore(js).append(
        [Envelope.wrap(event, agency=agency, subject=case_id, source="test")], expected=0
    )
    return case_id


@pytest.fixture
async def client(launch: Any, tmp_path: Path) -> Client:
    app = await launch("a")
    private, _ = generate_dev_keys(tmp_path / "keys")
    return Client(app, private.read_bytes())


async def test_an_applicant_becomes_an_active_peer_step_by_step(client: Client) -> None:
    mentor = await new_peer(client, discipline="fire")
    r = await client.call(
        "POST", f"/v1/agencies/{A}/peers", json={"discipline": "ems", "languages": ["en", "es"]}
    )
    ref = r.json()["peer_ref"]
    assert r.json()["stage"] == "applicant"
    base = f"/v1/agencies/{A}/peers/{ref}"
    assert (await client.call("POST", f"{base}/activation")).status_code == 409  # not selected, not trained
    assert (await client.call("POST", f"{base}/selection")).json()["stage"] == "selected"
    training = {"course": "cism-basic", "completed_on": "2026-01-02"}
    assert (await client.call("POST", f"{base}/trainings", json=training)).json()["stage"] == "trained"
    assert (await client.call("POST", f"{base}/activation")).json()["stage"] == "active"
    r = await client.call("POST", f"{base}/mentor", json={"mentor_ref": mentor})
    assert r.json()["mentor_ref"] == mentor
    week = {
        "windows": [{"day": d, "start": "08:00", "end": "18:00"} for d in range(5)],
        "tz": "America/Chicago",
    }
    assert (
        len((await client.call("PUT", f"{base}/windows", "peer", A, ref, json=week)).json()["windows"]) == 5
    )
    assert (await client.call("POST", f"{base}/confirmation", "peer", A, ref)).status_code == 200
    bad = await client.call("POST", f"{base}/trainings", json={"course": "x", "completed_on": "soon"})
    assert bad.status_code == 422 and "completed_on" in bad.text
    assert (await client.call("POST", f"/v1/agencies/{A}/peers/p-nobody/selection")).status_code == 404
    card = await eventually(client, base, lambda c: c["stage"] == "active" and c["mentor_ref"] == mentor)
    assert "member_ref" not in card and "supervisor_refs" not in card
    listing = await eventually(client, f"/v1/agencies/{A}/peers", lambda rows: len(rows) == 2)
    assert {p["peer_ref"] for p in listing} == {mentor, ref}
    r = await client.call("POST", f"{base}/deselection", json={"reason": "own_request"})
    assert r.json()["stage"] == "deselected"
    assert (await client.call("PUT", f"{base}/availability", json={"available": True})).status_code == 409


async def test_a_decline_reassigns_and_every_decision_is_explained(client: Client, log: Any) -> None:
    first = await new_peer(client, discipline="fire")
    second = await new_peer(client, discipline="fire")
    await eventually(
        client, f"/v1/agencies/{A}/peers", lambda rows: all(p["on_duty"] for p in rows) and len(rows) == 2
    )
    alerts = await log.nc.subscribe(f"notify.{A}.coordinator")
    case_id = await request_support(log.nc.jetstream())
    explained = f"/v1/agencies/{A}/cases/{case_id}/explanation"
    got = await eventually(client, explained, lambda x: len(x["decisions"]) == 1)
    offered_to = got["decisions"][0]["peer_ref"]
    other = second if offered_to == first else first
    answer = {"case_agency": A}
    decline_url = f"/v1/agencies/{A}/peers/{offered_to}/assignments/{case_id}/decline"
    wrong = await client.call("POST", decline_url.replace(offered_to, other), "peer", A, other, json=answer)
    assert wrong.status_code == 409  # not offered to them
    free_text = {**answer, "reason": "my kid is sick"}  # a code or nothing: never free text
    refused = await client.call("POST", decline_url, "peer", A, offered_to, json=free_text)
    assert refused.status_code == 422 and "my kid" not in refused.text
    coded = {**answer, "reason": "not_my_skill"}
    r = await client.call("POST", decline_url, "peer", A, offered_to, json=coded)
    assert r.json()["events"] == ["assignment_declined", "peer_assigned"], r.text
    declined = [e for _, e in (await log.cases())[case_id] if e.event_name == "assignment_declined"]
    assert declined[0].data["reason"] == "not_my_skill"
    got = await eventually(client, explained, lambda x: len(x["decisions"]) == 2)
    assert got["decisions"][1]["peer_ref"] == other
    assert got["decisions"][1]["excluded"] == {"declined_or_expired": [offered_to]}
    accept_url = f"/v1/agencies/{A}/peers/{other}/assignments/{case_id}/accept"
    assert (await client.call("POST", accept_url, "peer", A, other, json=answer)).json()["events"] == [
        "assignment_accepted"
    ]
    r = await client.call("POST", accept_url.replace("accept", "decline"), "peer", A, other, json=answer)
    assert r.json()["events"] == ["assignment_declined", "request_unmatched", "coordinator_alerted"]
    alert = json.loads((await alerts.next_msg(timeout=5)).data)
    assert alert == {"case_id": case_id, "agency": A, "reason": "request_unmatched"}
    got = await eventually(client, explained, lambda x: len(x["decisions"]) == 3)
    assert got["decisions"][2]["outcome"] == "unmatched"
    assert "member" not in json.dumps(got)
    assert (await client.call("GET", explained, agency=B, role="coordinator")).status_code == 403


PEER = "p-walk"
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/agencies/{agency}/peers"): {"json": {"discipline": "fire"}},
    ("GET", "/v1/agencies/{agency}/peers"): {},
    ("GET", "/v1/agencies/{agency}/peers/{peer_ref}"): {},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/selection"): {},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/trainings"): {
        "json": {"course": "cism", "completed_on": "2026-01-01"}
    },
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/activation"): {},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/mentor"): {"json": {"mentor_ref": "p-other"}},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/deselection"): {"json": {"reason": "program_decision"}},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/acknowledgement"): {"json": {"policy_version": "v1"}},
    ("PUT", "/v1/agencies/{agency}/peers/{peer_ref}/availability"): {"json": {"available": True}},
    ("PUT", "/v1/agencies/{agency}/peers/{peer_ref}/windows"): {"json": {"windows": []}},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/confirmation"): {},
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/assignments/{case_id}/accept"): {
        "json": {"case_agency": A}
    },
    ("POST", "/v1/agencies/{agency}/peers/{peer_ref}/assignments/{case_id}/decline"): {
        "json": {"case_agency": A}
    },
    ("GET", "/v1/agencies/{agency}/peers/{peer_ref}/offers"): {},
    ("GET", "/v1/agencies/{agency}/peers/{peer_ref}/profile"): {},
    ("PUT", "/v1/agencies/{agency}/peers/{peer_ref}/profile"): {"json": {"display_name": "Sam"}},
    ("GET", "/v1/agencies/{agency}/cases/{case_id}/explanation"): {},
    ("POST", "/v1/agencies/{agency}/cases/{case_id}/rematch"): {},
    ("POST", "/v1/agencies/{agency}/cases/{case_id}/assignment"): {"json": {"peer_ref": "p-1"}},
}


async def test_every_route_admits_exactly_its_roles_and_only_in_their_agency(client: Client) -> None:
    routes: dict[tuple[str, str], tuple[str, ...]] = {}
    for route in client.http._transport.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, RoleGuard)]
            for method in route.methods:
                if guards:
                    routes[(method, route.path)] = guards[0].roles
                else:
                    assert route.path == "/healthz", f"{route.path} has no role guard"
    assert set(routes) == set(SAMPLES), "every guarded route needs a sample request in this test"
    for (method, path), allowed in routes.items():
        url = path.format(agency=A, peer_ref=PEER, case_id="c-walk")
        body = SAMPLES[(method, path)].get("json")
        r = await client.http.request(method, url, json=body)
        assert r.status_code == 401, (method, path, "no token")
        for role in ROLES:
            r = await client.call(method, url, role, A, PEER, json=body)
            if role not in allowed:
                assert r.status_code == 403, (method, path, role, r.text)
                continue
            assert r.status_code not in (401, 403, 422), (method, path, role, r.text)
            r = await client.call(method, url, role, B, PEER, json=body)
            if role == "regional_admin":
                assert r.status_code not in (401, 403, 422), (method, path, role, "B")
            else:
                assert r.status_code == 403, (method, path, role, "B", r.text)
        if "peer" in allowed and "{peer_ref}" in path:
            r = await client.call(method, url, "peer", A, "p-someone-else", json=body)
            assert r.status_code == 403, (method, path, "a peer acting for another")


async def test_the_directory_view_rebuilds_from_the_log_to_the_same_digest(
    client: Client, log: Any, stop: Any, tmp_path: Path
) -> None:
    first = await new_peer(client, discipline="fire")
    second = await new_peer(client, discipline="ems", languages=["en", "fr"])
    await client.call("POST", f"/v1/agencies/{A}/peers", json={"discipline": "police"})
    for ref in (first, second):  # both in the directory and on duty before the request arrives
        await eventually(client, f"/v1/agencies/{A}/peers/{ref}", lambda c: c["on_duty"])
    case_id = await request_support(log.nc.jetstream())
    explained = f"/v1/agencies/{A}/cases/{case_id}/explanation"
    got = await eventually(client, explained, lambda x: len(x["decisions"]) == 1)
    peer = got["decisions"][0]["peer_ref"]
    url = f"/v1/agencies/{A}/peers/{peer}/assignments/{case_id}/decline"
    await client.call("POST", url, "peer", A, peer, json={"case_agency": A})
    await eventually(client, explained, lambda x: len(x["decisions"]) == 2)
    await eventually(client, f"/v1/agencies/{A}/peers/{first}", lambda c: c["on_duty"])
    matching = client.matching
    directory = consumer("matching-directory")
    await ProjectionRunner(log.nc.jetstream(), matching.engine, DirectoryProjection(), directory).caught_up()
    await stop(matching)
    rebuilt = make_engine(f"sqlite:///{tmp_path}/rebuilt.db")
    count = await rebuild(log.nc.jetstream(), rebuilt, DirectoryProjection(), consumer("matching-directory"))
    assert count > 0
    assert digest(rebuilt, DirectoryProjection()) == digest(matching.engine, DirectoryProjection())
