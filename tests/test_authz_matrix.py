"""The authorization matrix, generated from every service's route table: every route × every role ×
own/other agency × the object's owner where the route has one. A route that declares neither its roles
(`auth.require`) nor why it is open (`auth.open`) fails here, so a new route cannot slip in unguarded.

Each service's own route tests add what needs its backends (a sample request per route that an allowed
caller gets through); this matrix checks what the declarations promise before any handler runs."""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.auth import ROLES, OpenRoute, Role, RoleGuard, generate_dev_keys, mint
from shared.runtime import SERVICES

pytestmark = pytest.mark.integration
OWN, OTHER, SUB = "riverton-fire", "riverton-police", "u-1"
PARAM = re.compile(r"{(\w+)}")


LOAD = {"intake": {"rate_per_minute": 10**6, "rate_burst": 10**6}}  # the matrix is not abuse
# The console is the people's browser app: signed-in sessions, not bearer tokens, guard its pages, and
# tests/console checks them (it calls these APIs with the person's own token, so they still decide).
BROWSER_APPS = {"console"}


def services(tmp: Path, public: Path) -> dict[str, FastAPI]:
    """Every service the runtime starts (a new one is in the matrix the day it exists), built with the
    settings class its composition root declares."""
    apps = {}
    for name in sorted(set(SERVICES) - BROWSER_APPS):
        main = importlib.import_module(f"services.{name}.main")
        settings = typing.get_type_hints(main.create_app)["settings"].__args__[0]  # X | None
        common = {"var_dir": tmp / name, "jwt_public_key_file": public, "nats_url": "nats://127.0.0.1:1"}
        apps[name] = main.create_app(settings(**common, **LOAD.get(name, {}))).api
    return apps


def declarations(route: APIRoute) -> list[Any]:
    return [d.call for d in route.dependant.dependencies if isinstance(d.call, RoleGuard | OpenRoute)]


def cells(apps: dict[str, FastAPI]) -> Iterator[tuple[str, str, str, RoleGuard]]:
    for service, app in apps.items():
        for route in app.routes:
            if isinstance(route, APIRoute):
                for guard in declarations(route):
                    if isinstance(guard, RoleGuard):
                        for method in sorted(route.methods):
                            yield service, method, route.path, guard


def url(path: str, agency: str, owner: str | None = None, who: str = SUB) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        return agency if name == "agency" else who if name == owner else f"x-{name.replace('_', '-')}"

    return PARAM.sub(fill, path)


def bearer(private: bytes, role: Role, agency: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(private, role=role, agency=agency, sub=SUB)}"}


@pytest.fixture
def world(tmp_path: Path) -> tuple[dict[str, FastAPI], bytes]:
    private, public = generate_dev_keys(tmp_path / "keys")
    return services(tmp_path, public), private.read_bytes()


def test_every_route_of_every_service_declares_who_may_call_it(
    world: tuple[dict[str, FastAPI], bytes],
) -> None:
    apps, _ = world
    undeclared = [
        f"{service} {sorted(route.methods)} {route.path}"
        for service, app in apps.items()
        for route in app.routes
        if isinstance(route, APIRoute) and len(declarations(route)) != 1
    ]
    assert undeclared == [], "routes without exactly one auth.require(...) or auth.open(...)"
    guarded = list(cells(apps))
    assert {s for s, *_ in guarded} == set(apps)
    for service, method, path, guard in guarded:
        assert guard.roles and set(guard.roles) <= set(ROLES), (service, method, path)
        for role, param in guard.owner.items():
            assert role in guard.roles and f"{{{param}}}" in path, (service, method, path, role)


async def test_every_route_x_role_x_agency_x_owner(world: tuple[dict[str, FastAPI], bytes]) -> None:
    apps, private = world
    checked = 0
    for service, method, path, guard in cells(apps):
        transport = httpx.ASGITransport(app=apps[service], raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as c:
            where = (service, method, path)
            r = await c.request(method, url(path, OWN), json={})
            assert r.status_code == 401, (*where, "no token", r.text)
            for role in ROLES:
                own = bearer(private, role, OWN)
                if role not in guard.roles:
                    r = await c.request(method, url(path, OWN), json={}, headers=own)
                    assert r.status_code == 403 and "may not do this" in r.text, (*where, role, r.text)
                    continue
                param = guard.owner.get(role)
                if "{agency}" in path and role != "regional_admin":
                    there = url(path, OTHER, param)
                    r = await c.request(method, there, json={}, headers=bearer(private, role, OTHER))
                    assert r.status_code not in (401, 403), (*where, role, "own agency", r.text)
                    r = await c.request(method, there, json={}, headers=own)
                    assert r.status_code == 403 and "outside your agency" in r.text, (*where, role, r.text)
                if param is not None:
                    mine = await c.request(method, url(path, OWN, param), json={}, headers=own)
                    assert mine.status_code != 403, (*where, role, "their own", mine.text)
                    theirs = await c.request(method, url(path, OWN, param, who="u-2"), json={}, headers=own)
                    assert theirs.status_code == 403 and "for themselves" in theirs.text, (*where, role)
                checked += 1
    assert checked == sum(len(g.roles) for *_, g in cells(apps)) > 90  # every allowed (route, role) pair
