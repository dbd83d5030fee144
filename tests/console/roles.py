"""What the coordinator's and clinician's browser tests share: Chromium, the sign-in by demo person,
the log read from a worker thread (Playwright's sync API keeps a loop in this one), and an axe scan."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from shared.auth import Role
from shared.envelope import Envelope
from tests.support.cluster import Cluster, events

CHROMIUM = "/usr/bin/chromium"
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def signed_in(browser: Browser, url: str, person: str, home: str, scheme: str = "light") -> Page:
    page = browser.new_context(viewport={"width": 1024, "height": 900}, color_scheme=scheme).new_page()  # type: ignore[arg-type]
    page.goto(f"{url}/signin")
    page.click(f"button[data-person='{person}']")
    at(page, home)
    return page


def at(page: Page, prefix: str) -> str:
    """htmx replaces the history entry (no navigation event), so read the location itself."""
    page.wait_for_function("p => location.pathname.startsWith(p)", arg=prefix)
    return str(page.evaluate("location.pathname"))


def on_log(cluster: Cluster, subject: str, until: int = 1) -> list[Envelope]:
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(events, cluster, subject, until).result()


def call(cluster: Cluster, method: str, service: str, path: str, role: Role, agency: str, **kw: Any) -> Any:
    """A service's API as `role` (a test's own set-up and checks)."""
    headers = {"Authorization": f"Bearer {cluster.token(role, agency, kw.pop('sub', None))}"}
    r = httpx.request(method, cluster.url(service) + path, headers=headers, timeout=10, **kw)
    assert r.status_code < 300, r.text
    return r.json()


def accessible(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    assert "Something went wrong" not in page.title(), f"{page.url} rendered the error page"
    result = Axe().run(page, options=WCAG)
    assert result.violations_count == 0, f"{page.url}: {result.generate_report()}"
