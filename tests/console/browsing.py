"""What the leader's and admin's browser tests share: Chromium, signing in as a demo person, the links a
page offers, a report table as the page shows it, and a CSV as the console sends it."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from shared.auth import mint

CHROMIUM = "/usr/bin/chromium"
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
LINKS = "[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
TABLE = """t => [...t.querySelectorAll('tr')].map(r => [...r.cells].map(c => c.innerText.trim()))"""


def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def signed_in(browser: Browser, url: str, person: str, home: str, scheme: str = "light") -> Page:
    page = browser.new_context(viewport={"width": 1024, "height": 900}, color_scheme=scheme).new_page()  # type: ignore[arg-type]
    page.goto(f"{url}/signin")
    page.click(f"button[data-person='{person}']")
    page.wait_for_function("p => location.pathname.startsWith(p)", arg=home)
    return page


def links(page: Page) -> list[str]:
    return list(page.evaluate(LINKS))


def table_of(page: Page, report: str) -> list[list[str]]:
    return list(page.eval_on_selector(f"table[data-report='{report}']", TABLE))


def csv_of(page: Page, href: str) -> list[list[str]]:
    """The CSV the link downloads, fetched with the page's own session cookie."""
    r = page.request.get(href)
    assert r.ok and r.headers["content-type"].startswith("text/csv"), r.status
    return list(csv.reader(io.StringIO(r.text())))


def open_requests(url: str, private_key: bytes, agency: str, n: int) -> None:
    """n anonymous self-referrals through intake's API, as n different members."""
    for i in range(n):
        token = mint(private_key, role="member", agency=agency, sub=f"m-trend-{agency}-{i}")
        r = httpx.post(
            f"{url}/v1/requests",
            json={"agency": agency, "activation": "self"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text


def wait_until_counted(url: str, private_key: bytes, agency: str, within: float = 20.0) -> None:
    """Tracking's requests report shows this quarter's count as hidden (a count under the threshold)."""
    token = mint(private_key, role="leader", agency=agency, sub="l-check")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{url}/v1/agencies/{agency}/reports/requests", headers={"Authorization": f"Bearer {token}"}
        )
        if r.status_code == 200 and r.json()["row_labels"] and r.json()["total"] is None:
            return
        time.sleep(0.2)
    raise AssertionError("tracking did not count the requests")
