"""Tracking over HTTP against a real nats-server: the assigned peer reports, a coordinator closes and
reads the timeline, leaders read suppressed reports; every route × every role; rebuild = live."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from nats.js import JetStreamContext

from services.tracking.main import Tracking
from services.tracking.projection.audit import AuditProjection
from services.tracking.projection.trends import TrendsProjection
from services.tracking.queries.reports import REPORTS
from services.tracking.settings import TrackingSettings
from shared.auth import ROLES, RoleGuard, generate_dev_keys, mint
from shared.clock import FakeClock
from shared.codes import CodeLists
from shared.contracts.intake import SupportRequested
from shared.contracts.matching import PeerAssigned
from shared.db import make_engine
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.projection import digest
from shared.replay import rebuild, rebuild_many
from shared.runner import ProjectionRunner
from shared.topology import Consumer

pytestmark = pytest.mark.integration
CONTACT = {"mode": "phone", "categories": ["grief", "operational_stress"], "duration": "15_30m"}


@dataclass
class Env:
    client: httpx.AsyncClient
    app: Tracking
    store: EventStore
    key: bytes
    agency: str
    other: str
    runners: list[ProjectionRunner]
    consumers: list[Consumer]

    def auth(self, role: str, agency: str | None = None, sub: str | None = None) -> dict[str, str]:
        token = mint(self.key, role=role, agency=agency or self.agency, sub=sub)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    async def open_case(self, peer: str = "p-one", agency: str | None = None, unit: str = "st-9") -> str:
        agency = agency or self.agency
        case_id = new_id("c")
        requested = Envelope.wrap(
            SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64, unit=unit),
            agency=agency,
            subject=case_id,
            source="test",
        )
        version = await self.store.append([requested], expected=0)
        assigned = Envelope.wrap(
            PeerAssigned(peer_ref=peer, peer_agency=agency), agency=agency, subject=case_id, source="test"
        )
        await self.store.append([assigned], expected=version)
        return case_id

    async def catch_up(self) -> None:
        for runner in self.runners:
            await runner.catch_up()


def token_agency() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
async def env(js: JetStreamContext, tmp_path: Path) -> AsyncIterator[Env]:
    private, public = generate_dev_keys(tmp_path / "keys")
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps({"*": {"units": ["st-9"]}}))
    settings = TrackingSettings(var_dir=tmp_path, jwt_public_key_file=public, codes_file=codes)
    app = Tracking(settings, clock=FakeClock())
    app._store = EventStore(js)
    agency, other = token_agency(), token_agency()
    consumers = [
        Consumer(f"test-trends-{agency}", (f"ev.{agency}.case.>",)),
        Consumer(f"test-audit-{agency}", (f"ev.{agency}.case.>", f"ev.{agency}.escalation.>")),
    ]
    runners = []
    for projection, c in zip(
        (TrendsProjection(CodeLists.load(codes)), AuditProjection()), consumers, strict=True
    ):
        await js.add_consumer(STREAM, c.config())
        runner = ProjectionRunner(js, app.engine, projection, c)
        await runner.start()
        runners.append(runner)
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://tracking") as client:
        yield Env(client, app, app._store, private.read_bytes(), agency, other, runners, consumers)
    for runner in runners:
        await runner.stop()


async def events_of(env: Env, case_id: str, agency: str | None = None) -> list[Envelope]:
    history = await env.store.load(agency or env.agency, "case", case_id)
    return [s.envelope for s in history.events]


async def test_the_assigned_peer_reports_a_contact_and_a_risk_flag_reaches_the_log(env: Env) -> None:
    case_id = await env.open_case("p-one")
    url = f"/v1/agencies/{env.agency}/cases/{case_id}/contacts"
    r = await env.client.post(url, json={**CONTACT, "risk_flag": True}, headers=env.auth("peer", sub="p-one"))
    assert r.status_code == 201, r.text
    assert r.json()["initial"] is True and r.json()["week"] == "2026-W02"
    logged = (await events_of(env, case_id))[-1]
    assert logged.event_name == "contact_logged"
    assert logged.data["risk_flag"] is True and logged.data["peer_ref"] == "p-one"
    assert logged.causationid is not None and logged.correlationid is not None
    for headers in (
        env.auth("peer", sub="p-two"),  # another peer
        env.auth("peer", agency=env.other, sub="p-one"),  # the same sub in another agency
    ):
        r = await env.client.post(url, json=CONTACT, headers=headers)
        assert r.status_code == 403, r.text
    assert len(await events_of(env, case_id)) == 3


async def test_a_retried_report_is_stored_once(env: Env) -> None:
    case_id = await env.open_case("p-one")
    url = f"/v1/agencies/{env.agency}/cases/{case_id}/contacts"
    body = {**CONTACT, "report_id": "r-1"}
    for _ in range(2):
        r = await env.client.post(url, json=body, headers=env.auth("peer", sub="p-one"))
        assert r.status_code == 201, r.text
    names = [e.event_name for e in await events_of(env, case_id)]
    assert names.count("contact_logged") == 1


async def test_invalid_reports_name_the_field(env: Env) -> None:
    case_id = await env.open_case("p-one")
    url = f"/v1/agencies/{env.agency}/cases/{case_id}/contacts"
    peer = env.auth("peer", sub="p-one")
    for body, field in (
        ({**CONTACT, "categories": []}, "categories"),
        ({**CONTACT, "notes": "free text"}, "notes"),
        ({**CONTACT, "mode": "carrier pigeon"}, "mode"),
        ({**CONTACT, "week": "2026-W40"}, "week"),  # in the future of the fake clock
    ):
        r = await env.client.post(url, json=body, headers=peer)
        assert r.status_code == 422 and field in r.text, (field, r.text)
    r = await env.client.post(
        f"/v1/agencies/{env.agency}/cases/c-nothing/contacts", json=CONTACT, headers=peer
    )
    assert r.status_code == 404


async def test_a_coordinator_closes_the_case_and_reads_its_timeline_without_content(env: Env) -> None:
    case_id = await env.open_case("p-one")
    base = f"/v1/agencies/{env.agency}/cases/{case_id}"
    r = await env.client.post(f"{base}/contacts", json=CONTACT, headers=env.auth("peer", sub="p-one"))
    assert r.status_code == 201
    coordinator = env.auth("coordinator")
    r = await env.client.post(f"{base}/close", json={"outcome": "referred"}, headers=coordinator)
    assert r.status_code == 200, r.text
    assert (await env.client.post(f"{base}/close", json={}, headers=coordinator)).status_code == 409
    r = await env.client.post(f"{base}/contacts", json=CONTACT, headers=env.auth("peer", sub="p-one"))
    assert r.status_code == 409
    await env.catch_up()
    r = await env.client.get(f"{base}/timeline", headers=coordinator)
    assert r.status_code == 200, r.text
    timeline = r.json()
    assert [e["what"] for e in timeline] == ["requested", "peer_assigned", "contact_reported", "closed"]
    assert timeline[1]["peer_ref"] == "p-one"
    assert "grief" not in r.text and "operational_stress" not in r.text and "m-" not in r.text
    r = await env.client.get(f"{base}/timeline", headers=env.auth("coordinator", agency=env.other))
    assert r.status_code == 403
    r = await env.client.get(
        f"/v1/agencies/{env.other}/cases/{case_id}/timeline",
        headers=env.auth("coordinator", agency=env.other),
    )
    assert r.status_code == 404


async def test_a_leader_reads_suppressed_reports_as_json_and_csv(env: Env) -> None:
    case_id = await env.open_case("p-one")
    url = f"/v1/agencies/{env.agency}/cases/{case_id}/contacts"
    await env.client.post(url, json=CONTACT, headers=env.auth("peer", sub="p-one"))
    await env.catch_up()
    leader = env.auth("leader")
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/contacts?by=category", headers=leader)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] is None and body["suppression"]["threshold"] == 11
    assert all(v is None or v == 0 for row in body["cells"] for v in row)
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/contacts?by=unit&format=csv", headers=leader)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0] == "week,st-9,total" and "suppressed" in r.text and ",1," not in r.text
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/contacts?by=member", headers=leader)
    assert r.status_code == 422 and "by" in r.text
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/contacts?quarter=2026-12", headers=leader)
    assert r.status_code == 422 and "quarter" in r.text
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/contacts?quarter=2026-Q1", headers=leader)
    assert r.status_code == 200 and len(r.json()["row_labels"]) == 13


@pytest.mark.parametrize("report", sorted(REPORTS))
async def test_every_report_answers_from_its_default_view(env: Env, report: str) -> None:
    """No parameters at all: the current quarter, the report's first dimension, as JSON."""
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/{report}", headers=env.auth("leader"))
    assert r.status_code == 200, r.text
    assert r.json()["by"] == REPORTS[report].dimensions[0] and r.json()["columns"]
    r = await env.client.get(f"/v1/region/reports/{report}", headers=env.auth("regional_admin"))
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == "agency"


async def test_rebuilt_views_equal_the_live_ones(env: Env, js: JetStreamContext, tmp_path: Path) -> None:
    for peer in ("p-a", "p-b"):
        case_id = await env.open_case(peer)
        url = f"/v1/agencies/{env.agency}/cases/{case_id}/contacts"
        await env.client.post(url, json=CONTACT, headers=env.auth("peer", sub=peer))
    await env.client.post(
        f"/v1/agencies/{env.agency}/cases/{case_id}/close", json={}, headers=env.auth("coordinator")
    )
    await env.catch_up()
    for runner, c in zip(env.runners, env.consumers, strict=True):
        fresh = make_engine(f"sqlite:///{tmp_path}/rebuilt-{runner.projection.name}.db")
        count = await rebuild(js, fresh, runner.projection, c)
        assert count >= 7
        assert digest(fresh, runner.projection) == digest(env.app.engine, runner.projection)
    together = make_engine(f"sqlite:///{tmp_path}/rebuilt-together.db")  # one pass, as `replay` runs
    pairs = [(r.projection, c) for r, c in zip(env.runners, env.consumers, strict=True)]
    assert await rebuild_many(js, together, pairs) >= 7
    for projection, _ in pairs:
        assert digest(together, projection) == digest(env.app.engine, projection)


Sample = Callable[[Env, str], Awaitable[dict[str, Any]]]


async def _contacts(env: Env, sub: str) -> dict[str, Any]:
    case_id = await env.open_case(sub)
    return {"url": f"/v1/agencies/{env.agency}/cases/{case_id}/contacts", "json": CONTACT}


async def _close(env: Env, sub: str) -> dict[str, Any]:
    case_id = await env.open_case()
    return {"url": f"/v1/agencies/{env.agency}/cases/{case_id}/close", "json": {}}


async def _timeline(env: Env, sub: str) -> dict[str, Any]:
    case_id = await env.open_case()
    await env.catch_up()
    return {"url": f"/v1/agencies/{env.agency}/cases/{case_id}/timeline"}


async def _agency_report(env: Env, sub: str) -> dict[str, Any]:
    return {"url": f"/v1/agencies/{env.agency}/reports/requests?by=unit&format=csv&quarter=2026-Q1"}


async def _regional_report(env: Env, sub: str) -> dict[str, Any]:
    return {"url": "/v1/region/reports/contacts?by=category"}


SAMPLES: dict[tuple[str, str], Sample] = {
    ("POST", "/v1/agencies/{agency}/cases/{case_id}/contacts"): _contacts,
    ("POST", "/v1/agencies/{agency}/cases/{case_id}/close"): _close,
    ("GET", "/v1/agencies/{agency}/cases/{case_id}/timeline"): _timeline,
    ("GET", "/v1/agencies/{agency}/reports/{report}"): _agency_report,
    ("GET", "/v1/region/reports/{report}"): _regional_report,
}


async def test_every_route_admits_exactly_its_roles_and_only_in_their_agency(env: Env) -> None:
    routes: dict[tuple[str, str], tuple[str, ...]] = {}
    for route in env.app.api.routes:
        if isinstance(route, APIRoute):
            for dep in route.dependant.dependencies:
                if isinstance(dep.call, RoleGuard):
                    routes.update({(m, route.path): dep.call.roles for m in route.methods})
    assert set(routes) == set(SAMPLES), "every guarded route needs a sample request in this test"
    paths = {r.path for r in env.app.api.routes if isinstance(r, APIRoute)}
    assert paths - {p for _, p in routes} == {"/healthz"}, "a route without a role guard"
    for key, allowed in routes.items():
        method = key[0]
        for role in ROLES:
            sub = f"u-{role}"
            sample = await SAMPLES[key](env, sub)
            r = await env.client.request(method, sample["url"], json=sample.get("json"))
            assert r.status_code == 401, (key, "no token")
            r = await env.client.request(
                method, sample["url"], json=sample.get("json"), headers=env.auth(role, sub=sub)
            )
            if role not in allowed:
                assert r.status_code == 403, (key, role, r.text)
                continue
            assert r.status_code < 300, (key, role, r.text)
            sample = await SAMPLES[key](env, sub)
            r = await env.client.request(
                method,
                sample["url"],
                json=sample.get("json"),
                headers=env.auth(role, agency=env.other, sub=sub),
            )
            if role == "regional_admin":
                assert r.status_code < 300, (key, role, "other agency", r.text)
            else:
                assert r.status_code == 403, (key, role, "other agency", r.text)
