"""The console in process: HTTP through ASGI, the development key in a temporary var dir, and the
services' URLs pointing at a closed port unless a test brings real services."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.console.main import create_app
from services.console.settings import ConsoleSettings
from shared.auth import generate_dev_keys

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


def console_settings(var_dir: Path, urls: dict[str, str] | None = None) -> ConsoleSettings:
    generate_dev_keys(var_dir / "keys")
    names = ("intake", "matching", "escalation", "tracking", "wellness", "notify")
    given = {f"{n}_url": (urls or {}).get(n, NOWHERE) for n in names}
    return ConsoleSettings(var_dir=var_dir, live_poll_s=0.2, http_timeout_s=2.0, **given)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(console_settings(tmp_path))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, role: str, agency: str, sub: str) -> httpx.Response:
    page = await client.get("/signin")
    form = {"csrf_token": csrf_of(page.text), "role": role, "agency": agency, "sub": sub}
    return await client.post("/signin/dev", data=form, headers={"Sec-Fetch-Site": "same-origin"})
