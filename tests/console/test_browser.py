"""The console in a real headless Chromium (Debian's package) against every service: a member asks, the
offered peer answers from their inbox (its countdown ticking) and logs a coded contact with a risk flag in
under 30 s, the member's page follows live to the accepted peer; the quick exit leaves nothing in
history; every page passes axe-core in light and dark."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console.stack import wait_for_event
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
REFLOW = {"width": 320, "height": 640}  # WCAG reflow: a 1280-pixel window at 400 % (640 at 200 %)
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
SMALL_TARGETS = """[...document.querySelectorAll('a, button, select, summary, input:not([type=hidden])')]
  .filter(e => e.offsetParent !== null)
  .map(e => [e, e.closest('label') || e])
  .filter(([e, box]) => box.getBoundingClientRect().height < 44)
  .map(([e]) => e.outerHTML.slice(0, 80))"""
FIRE = "riverton-fire"
MEMBER = "m-demo-riverton-fire"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def new_page(browser: Browser, scheme: str = "light") -> Page:
    context = browser.new_context(viewport=PHONE, color_scheme=scheme)  # type: ignore[arg-type]
    return context.new_page()


def wait_path(page: Page, prefix: str) -> str:
    """htmx replaces the history entry (no navigation event), so read the location itself."""
    page.wait_for_function("p => location.pathname.startsWith(p)", arg=prefix)
    return str(page.evaluate("location.pathname"))


def sign_in(page: Page, url: str, person: str) -> None:
    page.goto(f"{url}/signin")
    page.click(f"button[data-person='{person}']")
    wait_path(page, "/member" if person.startswith("m-") else "/peer")


def test_a_member_asks_the_offered_peer_accepts_and_logs_a_contact(
    stack: tuple[Cluster, str], browser: Browser
) -> None:
    cluster, url = stack
    member = new_page(browser)
    sign_in(member, url, MEMBER)
    expect(member.locator(".advisement")).to_contain_text("confidential")
    member.click("#ask-now")
    case_id = wait_path(member, "/member/cases/").rsplit("/", 1)[1]

    offered = wait_for_event(cluster, f"ev.{FIRE}.case.{case_id}.peer_assigned")
    peer_ref = offered.data["peer_ref"]
    expect(member.locator("[data-status]")).to_have_attribute("data-status", "offered", timeout=15000)
    expect(member.locator(".crisis-lines")).to_contain_text("988")

    peer = new_page(browser, "dark")
    sign_in(peer, url, peer_ref)
    peer.goto(f"{url}/peer/inbox")  # the offers waiting, each with its countdown
    countdown = peer.locator(f"[data-case='{case_id}'] time.countdown")
    first = int(countdown.get_attribute("data-seconds") or "0")
    peer.wait_for_function(  # the script ticks the seconds between the list's refreshes
        "([el, n]) => parseInt(el.dataset.seconds, 10) < n", arg=[countdown.element_handle(), first]
    )
    started = time.monotonic()
    peer.click(f"[data-case='{case_id}'] a.button")
    wait_path(peer, f"/peer/offers/{case_id}")
    peer.click("#accept")
    wait_path(peer, f"/peer/cases/{case_id}")
    peer.check("input[name=categories][value=operational_stress]")
    peer.check("input[name=risk_flag]")
    peer.click("#contact button.primary")
    expect(peer.locator("#logged")).to_be_visible()
    assert time.monotonic() - started < 30, "accepting and logging a contact takes under 30 seconds"

    accepted = wait_for_event(cluster, f"ev.{FIRE}.case.{case_id}.assignment_accepted")
    logged = wait_for_event(cluster, f"ev.{FIRE}.case.{case_id}.contact_logged")
    assert accepted.data["peer_ref"] == peer_ref
    assert logged.data["risk_flag"] is True and logged.data["categories"] == ["operational_stress"]
    expect(member.locator("[data-status]")).to_have_attribute("data-status", "accepted", timeout=15000)
    expect(member.locator("#who-contacts")).to_be_visible()


def test_escape_three_times_leaves_at_once_and_nothing_in_history(
    stack: tuple[Cluster, str], browser: Browser
) -> None:
    _, url = stack
    page = new_page(browser)
    page.goto(f"{url}/")
    entries = page.evaluate("history.length")  # the blank tab, then the console
    page.click("a[href='/signin']")
    page.click(f"button[data-person='{MEMBER}']")
    wait_path(page, "/member")
    page.click("a[href='/resources']")
    wait_path(page, "/resources")
    for _ in range(3):
        page.keyboard.press("Escape")
    page.wait_for_url("**/bye")
    assert page.evaluate("history.length") == entries, "the console kept one history entry, now replaced"
    assert page.context.cookies() == []
    page.go_back()
    assert page.url == "about:blank"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_reflows_and_has_44_pixel_targets(
    stack: tuple[Cluster, str], browser: Browser, scheme: str
) -> None:
    _, url = stack
    page = browser.new_context(viewport=REFLOW, color_scheme=scheme).new_page()  # type: ignore[arg-type]
    axe = Axe()
    pages = {
        None: ["/", "/resources", "/signin"],
        MEMBER: ["/member", "/me/debriefs", "/me/checkins", "/me/notifications"],
        "p-riverton-fire-03": [
            "/peer",
            "/peer/inbox",
            "/peer/cases",
            "/peer/followups",
            "/peer/offers/c-x",
            "/peer/cases/c-x",
        ],
    }
    for person, paths in pages.items():
        if person:
            sign_in(page, url, person)
        for path in paths:
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            assert "Something went wrong" not in page.title(), f"{path} rendered the error page"
            assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{path} scrolls sideways at 320 CSS pixels"
            assert page.evaluate(SMALL_TARGETS) == [], f"{path}: targets under 44 px"
            result = axe.run(page, options=WCAG)
            assert result.violations_count == 0, f"{path} ({scheme}): {result.generate_report()}"
