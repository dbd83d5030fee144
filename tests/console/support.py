"""Helpers for the console's tests: its settings in a temporary var dir, the CSRF token, the dev sign-in."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from services.console.settings import ConsoleSettings
from shared.auth import generate_dev_keys

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


def console_settings(var_dir: Path, urls: dict[str, str] | None = None) -> ConsoleSettings:
    generate_dev_keys(var_dir / "keys")
    names = ("intake", "matching", "escalation", "tracking", "wellness", "notify")
    given = {f"{n}_url": (urls or {}).get(n, NOWHERE) for n in names}
    return ConsoleSettings(var_dir=var_dir, live_poll_s=0.2, http_timeout_s=2.0, **given)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, role: str, agency: str, sub: str) -> httpx.Response:
    page = await client.get("/signin")
    form = {"csrf_token": csrf_of(page.text), "role": role, "agency": agency, "sub": sub}
    return await client.post("/signin/dev", data=form, headers={"Sec-Fetch-Site": "same-origin"})
