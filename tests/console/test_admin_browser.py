"""The regional admin in headless Chromium against every service: the agencies; a disclosure-policy
change proposed by one admin, refused when the same admin approves it, in force once a second admin
approves it (the log records both); the regional roll-up with its CSV equal to its table; a service's
API docs (Swagger UI, ReDoc) rendering with no script or style from another origin; axe on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Route, expect

from tests.console.browsing import WCAG, chromium, csv_of, links, signed_in, table_of
from tests.support.cluster import Cluster, events

pytestmark = pytest.mark.e2e
EMS = "county-ems"
FIRST, SECOND = "ra-demo-1", "ra-demo-2"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


def test_a_policy_change_needs_a_second_admin(stack: tuple[Cluster, str], browser: Browser) -> None:
    cluster, url = stack
    first = signed_in(browser, url, FIRST, "/admin")
    expect(first.locator(f"a[href='/admin/agencies/{EMS}']")).to_be_visible()
    first.click(f"a[href='/admin/agencies/{EMS}']")
    first.wait_for_function("p => location.pathname === p", arg=f"/admin/agencies/{EMS}")
    expect(first.locator("#triggers")).to_contain_text("line_of_duty_death")  # read back from intake
    expect(first.locator("#thresholds")).not_to_be_empty()  # and from wellness
    before = int(first.locator("#policy-now [data-version]").get_attribute("data-version") or "0")
    first.click("#propose-form summary")
    first.fill("input[name=jurisdiction]", "reviewed-duty")
    first.check("input[name=disclosable][value=duty_refusal_endangering_others]")
    first.click("#propose")
    expect(first.locator("#proposal")).to_have_attribute("data-proposed-by", FIRST)
    expect(first.locator("#policy-now [data-version]")).to_have_text(str(before))  # not in force yet

    first.click("#approve")  # the same admin: escalation refuses
    expect(first.locator("main")).to_contain_text("a second person must approve")
    first.goto(f"{url}/admin/agencies/{EMS}")
    expect(first.locator("#policy-now [data-version]")).to_have_text(str(before))

    second = signed_in(browser, url, SECOND, "/admin")
    second.goto(f"{url}/admin/agencies/{EMS}")
    expect(second.locator("#proposal")).to_contain_text("reviewed-duty")
    second.click("#approve")
    expect(second.locator("#policy-now [data-version]")).to_have_text(str(before + 1))
    expect(second.locator("#policy-now")).to_contain_text("reviewed-duty")
    expect(second.locator("#proposal")).to_have_count(0)
    subject = f"ev.{EMS}.policy.*.disclosure_policy_recorded"
    with ThreadPoolExecutor(1) as worker:  # Playwright's sync API keeps a loop in this thread
        recorded = worker.submit(events, cluster, subject, before + 1).result()[-1]
    assert (recorded.data["proposed_by"], recorded.data["approved_by"]) == (FIRST, SECOND)
    assert "duty_refusal_endangering_others" in recorded.data["disclosable"]


def test_the_rollup_csv_is_exactly_its_table(stack: tuple[Cluster, str], browser: Browser) -> None:
    _, url = stack
    page = signed_in(browser, url, FIRST, "/admin")
    page.goto(f"{url}/admin/rollup")
    expect(page.locator("section.dashboard")).to_have_count(6)
    assert table_of(page, "requests")[0][0] == "agency"
    for report in ("requests", "contacts", "debriefs"):
        href = page.locator(f"section[aria-labelledby='h-{report}'] a[href*='/csv']").get_attribute("href")
        assert csv_of(page, url + (href or "")) == table_of(page, report), report
    assert not [h for h in links(page) if re.search(r"/(cases|peer|member)\b", h)]


def test_api_docs_render_with_no_script_or_style_from_elsewhere(
    stack: tuple[Cluster, str], browser: Browser
) -> None:
    """One service in the browser (tests/test_api_docs.py checks every service's pages and assets)."""
    cluster, _ = stack
    page = browser.new_context().new_page()
    elsewhere: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:  # ReDoc's own "powered by" logo is the one image it asks elsewhere for: refused too
            if route.request.resource_type != "image":
                elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{cluster.url('tracking')}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Peerline tracking", timeout=20000)
    page.goto(f"{cluster.url('tracking')}/redoc")
    expect(page.locator("h1").first).to_contain_text("Peerline tracking", timeout=20000)
    assert elsewhere == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_admin_page_passes_axe(stack: tuple[Cluster, str], browser: Browser, scheme: str) -> None:
    _, url = stack
    page = signed_in(browser, url, FIRST, "/admin", scheme)
    axe = Axe()
    for path in ("/admin", f"/admin/agencies/{EMS}", "/admin/rollup", f"/leader?agency={EMS}"):
        page.goto(url + path)
        page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")
        assert "Something went wrong" not in page.title(), path
        result = axe.run(page, options=WCAG)
        assert result.violations_count == 0, f"{path} ({scheme}): {result.generate_report()}"
