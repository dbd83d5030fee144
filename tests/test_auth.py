"""Every route × every role, through HTTP: who may call what, and never across agencies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from nats.js import JetStreamContext

from services.intake.main import Intake
from services.intake.projection import CaseProjection
from services.intake.settings import IntakeSettings
from shared.auth import ROLES, Auth, RoleGuard, Verifier, generate_dev_keys, mint
from shared.eventstore import EventStore
from shared.projection import ensure_schema

A, B = "riverton-fire", "riverton-police"
OPEN_ROUTES = {"/healthz", "/v1/requests/{case_id}", "/v1/requests/{case_id}/cancel"}
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/requests"): {"url": "/v1/requests", "json": {"agency": "{agency}", "activation": "self"}},
    ("GET", "/v1/agencies/{agency}/cases"): {"url": "/v1/agencies/{agency}/cases"},
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    private, public = generate_dev_keys(tmp_path_factory.mktemp("keys"))
    return private.read_bytes(), public


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


@pytest.fixture
async def client(
    js: JetStreamContext, tmp_path: Path, keys: tuple[bytes, Path]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = IntakeSettings(var_dir=tmp_path, jwt_public_key_file=keys[1])
    intake = Intake(settings)
    intake._store = EventStore(js)
    ensure_schema(intake.engine, CaseProjection())
    transport = httpx.ASGITransport(app=intake.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        c.app = intake.api  # type: ignore[attr-defined]
        yield c


def fill(sample: dict[str, Any], agency: str) -> dict[str, Any]:
    out = dict(sample)
    out["url"] = sample["url"].replace("{agency}", agency)
    if "json" in sample:
        out["json"] = {k: (agency if v == "{agency}" else v) for k, v in sample["json"].items()}
    return out


@pytest.mark.integration
async def test_every_route_admits_exactly_its_roles_and_only_in_their_agency(
    client: httpx.AsyncClient, keys: tuple[bytes, Path]
) -> None:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    routes = guarded(app)
    assert set(routes) == set(SAMPLES), "every guarded route needs a sample request in this test"
    all_paths = {r.path for r in app.routes if isinstance(r, APIRoute)}
    assert all_paths - {p for _, p in routes} == OPEN_ROUTES, "a route without a role guard"
    for (method, _path), allowed in routes.items():
        sample = fill(SAMPLES[(method, _path)], A)
        r = await client.request(method, sample["url"], json=sample.get("json"))
        assert r.status_code == 401, (method, _path, "no token")
        for role in ROLES:
            token = mint(keys[0], role=role, agency=A)
            r = await client.request(
                method, sample["url"], json=sample.get("json"), headers={"Authorization": f"Bearer {token}"}
            )
            if role in allowed:
                assert r.status_code < 300, (method, _path, role, r.text)
                other = mint(keys[0], role=role, agency=B)
                r = await client.request(
                    method,
                    sample["url"],
                    json=sample.get("json"),
                    headers={"Authorization": f"Bearer {other}"},
                )
                want = 300 if role == "regional_admin" else 403
                assert (r.status_code < 300) if want == 300 else r.status_code == 403, (
                    method,
                    _path,
                    role,
                    "B",
                )
            else:
                assert r.status_code == 403, (method, _path, role, r.text)


@pytest.mark.unit
def test_verifier_rejects_expired_foreign_and_tampered_tokens(
    keys: tuple[bytes, Path], tmp_path: Path
) -> None:
    verifier = Verifier(issuer="peerline-dev", audience="peerline", public_key_pem=keys[1].read_bytes())
    good = mint(keys[0], role="peer", agency=A, sub="u-1")
    assert verifier(good).role == "peer" and verifier(good).agency == A
    with pytest.raises(jwt.ExpiredSignatureError):
        verifier(mint(keys[0], role="peer", agency=A, ttl_s=-10))
    with pytest.raises(jwt.InvalidIssuerError):
        verifier(mint(keys[0], role="peer", agency=A, issuer="elsewhere"))
    other_private, _ = generate_dev_keys(tmp_path / "other")
    with pytest.raises(jwt.InvalidSignatureError):
        verifier(mint(other_private.read_bytes(), role="peer", agency=A))
    forged_role = jwt.encode(
        {
            "sub": "u",
            "role": "commander",
            "agency": A,
            "iss": "peerline-dev",
            "aud": "peerline",
            "exp": int(time.time()) + 60,
        },
        keys[0],
        algorithm="EdDSA",
    )
    with pytest.raises(ValueError):
        verifier(forged_role)


@pytest.mark.unit
def test_auth_needs_a_key_or_jwks() -> None:
    with pytest.raises(ValueError):
        Auth.from_settings(None, None, "i", "a")
