"""The clinician in Chromium against every service: a concern on a member's case pages them, its deadline
ticking; they acknowledge, choose a coded reason for a reveal, see exactly what will be recorded, confirm,
and the reveal is on the log (`identity_disclosed` with the policy basis and the reason) and in the
escalation's audit records; they resolve with an outcome; the audit trail verifies. Every page passes axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.console.roles import accessible, at, browser, call, on_log, signed_in
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
POLICE = "riverton-police"
CLINICIAN = "u-clin-riverton-police"
__all__ = ["browser"]


def raised_concern(cluster: Cluster) -> tuple[str, str]:
    """A member's request (identity sealed in the vault), offered to a peer who raises a self-harm concern."""
    body = {
        "agency": POLICE,
        "activation": "self",
        "identity": {"name": "Robin Hale", "phone": "+1 555 010 4242"},
    }
    case_id = call(cluster, "POST", "intake", "/v1/requests", "member", POLICE, json=body)["case_id"]
    [offered] = on_log(cluster, f"ev.{POLICE}.case.{case_id}.peer_assigned")
    concern = {"case_id": case_id, "category": "imminent_self_harm", "intent_and_plan": True}
    path = f"/v1/agencies/{POLICE}/escalations"
    raised = call(
        cluster, "POST", "escalation", path, "peer", POLICE, sub=offered.data["peer_ref"], json=concern
    )
    return case_id, raised["escalation_id"]


def test_page_acknowledge_reveal_with_its_record_resolve_verify(
    stack: tuple[Cluster, str], browser: Browser
) -> None:
    cluster, url = stack
    case_id, escalation_id = raised_concern(cluster)
    page = signed_in(browser, url, CLINICIAN, "/clinician")
    item = page.locator(f"#pages [data-escalation='{escalation_id}']")
    expect(item).to_be_visible(timeout=15000)
    countdown = item.locator("time.countdown")
    first = int(countdown.get_attribute("data-seconds") or "0")
    page.wait_for_function(  # the deadline ticks between the list's refreshes
        "([el, n]) => parseInt(el.dataset.seconds, 10) < n", arg=[countdown.element_handle(), first]
    )
    accessible(page)

    item.locator("a.button").click()
    at(page, f"/clinician/escalations/{escalation_id}")
    accessible(page)
    page.click("#acknowledge button")
    expect(page.locator("#status")).to_have_text("acknowledged", timeout=10000)
    page.select_option("#reason", "welfare_check")
    page.click("#reveal button")
    record = page.locator("#to-record")
    expect(record.locator("[data-field='basis']")).to_have_text("imminent_self_harm")
    expect(record.locator("[data-field='reason']")).to_have_text("welfare_check")
    expect(record.locator("[data-field='requested_by']")).to_have_text(CLINICIAN)
    expect(record.locator("[data-field='case_id']")).to_have_text(case_id)
    accessible(page)
    page.click("#confirm-reveal button")
    expect(page.locator("#identity")).to_contain_text("Robin Hale")

    [disclosed] = on_log(cluster, f"ev.{POLICE}.member.*.identity_disclosed")
    assert disclosed.data["escalation_id"] == escalation_id and disclosed.data["case_id"] == case_id
    assert (disclosed.data["basis"], disclosed.data["reason"]) == ("imminent_self_harm", "welfare_check")
    assert disclosed.data["requested_by"] == CLINICIAN and "Robin" not in str(disclosed.data)
    audited = page.locator("#audit li[data-type='peerline.identity_disclosed.v1']")
    for _ in range(50):  # the audit trail follows the log
        page.reload()  # the identity was shown once: the page holds it no more
        expect(page.locator("#identity")).to_have_count(0)
        if audited.count():
            break
    expect(audited).to_contain_text("basis imminent_self_harm · reason welfare_check")

    page.select_option("#outcome", "referred_to_clinician")
    page.click("#resolve button")
    expect(page.locator("#status")).to_have_text("resolved", timeout=10000)
    resolved = on_log(cluster, f"ev.{POLICE}.escalation.{escalation_id}.escalation_resolved")
    assert resolved[0].data["outcome"] == "referred_to_clinician"

    page.click("a[href='/clinician/audit']")
    at(page, "/clinician/audit")
    expect(page.locator("#verdict")).to_have_attribute("data-ok", "yes")
    accessible(page)


def test_a_clinician_never_reaches_the_coordinator_pages(
    stack: tuple[Cluster, str], browser: Browser
) -> None:
    _, url = stack
    page = signed_in(browser, url, CLINICIAN, "/clinician", "dark")
    accessible(page)
    response = page.goto(f"{url}/coordinator")
    assert response is not None and response.status == 403
