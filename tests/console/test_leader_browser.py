"""The leader's trends in headless Chromium against every service: six dashboards drawn as SVG on the
server, each with its table; a count under 11 shows as "fewer than 11" in the chart and the table; no
link on any leader page leads to a case, a person or anything but other trend pages and their CSV; the
CSV is exactly the table; a leader reads no other agency and no admin page; axe finds nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect

from tests.console.browsing import (
    WCAG,
    chromium,
    csv_of,
    links,
    open_requests,
    signed_in,
    table_of,
    wait_until_counted,
)
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
FIRE = "riverton-fire"
LEADER = f"l-demo-{FIRE}"
# Where a leader's page may lead: home, trends (the dashboards, one report, its CSV), help, own settings.
AGGREGATE = re.compile(
    r"^(#main|/|/resources|/me/notifications|/leader(\?[a-z0-9=&_-]*)?"
    r"|/leader/reports/[a-z_]+(/csv)?\?[a-z0-9=&_-]*)$"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture(scope="module")
def counted(stack: tuple[Cluster, str]) -> None:
    cluster, _ = stack
    open_requests(cluster.url("intake"), cluster.private_key, FIRE, 3)
    wait_until_counted(cluster.url("tracking"), cluster.private_key, FIRE)


def test_the_dashboards_show_every_trend_with_small_counts_hidden_and_lead_nowhere_else(
    stack: tuple[Cluster, str], browser: Browser, counted: None
) -> None:
    _, url = stack
    page = signed_in(browser, url, LEADER, "/leader")
    sections = page.locator("section.dashboard")
    expect(sections).to_have_count(6)
    for i in range(6):  # each: at least one chart, then its table
        expect(sections.nth(i).locator("figure.chart svg[role=img]").first).to_be_visible()
        expect(sections.nth(i).locator("table.report")).to_have_count(1)
    requests = table_of(page, "requests")
    assert requests[0][:2] == ["week", "all"] and len(requests) >= 1 + 13 + 1  # header, 13-14 weeks, total
    assert any("fewer than 11" in row for row in requests), requests
    assert not any(re.fullmatch(r"[1-9]|10", cell) for row in requests for cell in row[1:]), requests
    hidden = page.locator("section[aria-labelledby='h-requests'] .hidden-cell title")
    expect(hidden.first).to_contain_text("fewer than 11")
    assert page.locator("svg script, svg style, svg a, table a").count() == 0
    for path in ("/leader", "/leader/reports/contacts?by=category", "/leader/reports/requests?by=activation"):
        page.goto(url + path)
        found = links(page)
        assert found and all(AGGREGATE.match(h) for h in found), [h for h in found if not AGGREGATE.match(h)]


def test_the_csv_is_exactly_the_table(stack: tuple[Cluster, str], browser: Browser, counted: None) -> None:
    _, url = stack
    page = signed_in(browser, url, LEADER, "/leader")
    for report in ("requests", "contacts", "followups"):
        href = page.locator(f"section[aria-labelledby='h-{report}'] a[href*='/csv']").get_attribute("href")
        assert href is not None
        assert csv_of(page, url + href) == table_of(page, report), report
    page.goto(f"{url}/leader/reports/debriefs?by=outcome")
    href = page.locator("a[href*='/csv']").get_attribute("href") or ""
    assert csv_of(page, url + href) == table_of(page, "debriefs")


def test_a_leader_reads_only_their_agency_and_no_admin_page(
    stack: tuple[Cluster, str], browser: Browser
) -> None:
    _, url = stack
    page = signed_in(browser, url, LEADER, "/leader")
    for path in ("/leader?agency=riverton-police", "/admin", "/admin/rollup", "/leader/reports/members"):
        r = page.request.get(url + path)
        assert r.status in (403, 404), (path, r.status)
        assert "fewer than" not in r.text()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_leader_page_passes_axe(
    stack: tuple[Cluster, str], browser: Browser, counted: None, scheme: str
) -> None:
    _, url = stack
    page = signed_in(browser, url, LEADER, "/leader", scheme)
    axe = Axe()
    for path in ("/leader", "/leader/reports/contacts?by=mode", "/leader/reports/response_times"):
        page.goto(url + path)
        assert "Something went wrong" not in page.title(), path
        result = axe.run(page, options=WCAG)
        assert result.violations_count == 0, f"{path} ({scheme}): {result.generate_report()}"
