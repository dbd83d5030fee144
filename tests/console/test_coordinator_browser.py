"""The coordinator in Chromium against every service: the queue follows a new request; the case page
says why its peer was chosen; the coordinator gives it to another peer, then deselects that peer and the
case is handed on, not left; an applicant goes through selection, training with its expiry, activation, and
the roster follows without a reload; a CAD roster CSV is imported and read back, and re-mapping a CAD id
to another member is refused with the line named. Every page passes axe."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.console.roles import accessible, at, browser, call, on_log, signed_in
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
EMS = "county-ems"
COORDINATOR = "u-coord-county-ems"
__all__ = ["browser"]


def test_queue_why_assign_deselect_hands_on(stack: tuple[Cluster, str], browser: Browser) -> None:
    cluster, url = stack
    created = call(
        cluster, "POST", "intake", "/v1/requests", "member", EMS, json={"agency": EMS, "activation": "self"}
    )
    case_id = created["case_id"]
    [offered] = on_log(cluster, f"ev.{EMS}.case.{case_id}.peer_assigned")
    first = offered.data["peer_ref"]
    other = next(ref for ref, _ in offered.data["explanation"]["ranked"] if ref != first)

    page = signed_in(browser, url, COORDINATOR, "/coordinator")
    expect(page.locator(f"#queue [data-case='{case_id}']")).to_have_attribute(
        "data-status", "offered", timeout=15000
    )
    accessible(page)
    page.click(f"#queue [data-case='{case_id}'] a")
    at(page, f"/coordinator/cases/{case_id}")
    expect(page.locator(".decision[data-outcome='assigned'] .peer").first).to_have_text(first)
    expect(page.locator(".decision").first).to_contain_text("best score among eligible peers")
    accessible(page)

    page.select_option("#peer_ref", other)
    page.click("#assign button")
    expect(page.locator("#done")).to_contain_text("assigned")
    assigned = on_log(cluster, f"ev.{EMS}.case.{case_id}.peer_assigned", 2)
    [handed] = on_log(cluster, f"ev.{EMS}.case.{case_id}.assignment_declined")
    assert (handed.data["peer_ref"], handed.data["handed_on"]) == (first, "reassigned")
    assert assigned[1].data["peer_ref"] == other
    assert assigned[1].data["explanation"]["chosen_because"] == ["assigned by the coordinator"]

    page.goto(f"{url}/coordinator/roster/{other}")
    accessible(page)
    page.click("#deselect button")
    expect(page.locator("#stage")).to_have_text("deselected")
    declined = on_log(cluster, f"ev.{EMS}.case.{case_id}.assignment_declined", 2)
    assert (declined[1].data["peer_ref"], declined[1].data["handed_on"]) == (other, "peer_deselected")
    third = on_log(cluster, f"ev.{EMS}.case.{case_id}.peer_assigned", 3)[2].data["peer_ref"]
    assert third not in (first, other), "the case went on to a third peer, not back"

    page.goto(f"{url}/coordinator/cases/{case_id}")
    expect(page.locator("#timeline li").first).to_be_visible()


def test_an_applicant_goes_through_the_lifecycle(stack: tuple[Cluster, str], browser: Browser) -> None:
    cluster, url = stack
    page = signed_in(browser, url, COORDINATOR, "/coordinator")
    page.goto(f"{url}/coordinator/roster")
    expect(page.locator("#roster tbody tr").first).to_be_visible()
    accessible(page)
    page.select_option("#discipline", "dispatch")
    page.click("#apply button")
    expect(page.locator("#stage")).to_have_text("applicant")
    ref = at(page, "/coordinator/roster/p-").rsplit("/", 1)[1]
    page.click("#select button")
    expect(page.locator("#stage")).to_have_text("selected")
    page.fill("#expires_on", "2028-06-30")
    page.click("#training button")
    expect(page.locator("#stage")).to_have_text("trained")
    page.click("#activate button")
    expect(page.locator("#stage")).to_have_text("active")
    expect(page.locator("#card")).to_contain_text("lapses 2028-06-30")
    accessible(page)
    page.goto(f"{url}/coordinator/roster")
    row = page.locator(f"#roster tr[data-peer='{ref}']")
    expect(row).to_have_attribute("data-stage", "active", timeout=15000)  # the rows poll every 5 s
    expect(row).to_contain_text("off duty")
    peer_path = f"/v1/agencies/{EMS}/peers/{ref}/availability"
    call(cluster, "PUT", "matching", peer_path, "coordinator", EMS, json={"available": True})
    expect(row).to_contain_text("on duty", timeout=15000)  # no reload: the roster follows the log
    accessible(page)


def test_cad_roster_import_reads_back_and_refuses_to_move_an_id(
    stack: tuple[Cluster, str], browser: Browser, tmp_path: Path
) -> None:
    cluster, url = stack
    members = [
        call(
            cluster,
            "POST",
            "intake",
            "/v1/members",
            "coordinator",
            EMS,
            json={"agency": EMS, "identity": {"name": n}},
        )["member_ref"]
        for n in ("Ada Crew", "Ben Dispatch")
    ]
    first, moved = tmp_path / "roster.csv", tmp_path / "again.csv"
    first.write_text(f"cad_id,member_ref\nCEMS-501,{members[0]}\nCEMS-502,{members[1]}\n")
    moved.write_text(f"cad_id,member_ref\nCEMS-503,{members[1]}\nCEMS-501,{members[1]}\n")

    page = signed_in(browser, url, COORDINATOR, "/coordinator")
    page.goto(f"{url}/coordinator/cad")
    accessible(page)
    page.set_input_files("#roster", str(first))
    page.click("#cad-import button")
    expect(page.locator("#imported")).to_contain_text("2")
    expect(page.locator("#readback")).to_contain_text(members[0])
    expect(page.locator("#readback")).to_contain_text(members[1])
    accessible(page)

    page.set_input_files("#roster", str(moved))
    page.click("#cad-import button")
    expect(page.locator("#conflict")).to_contain_text("entries.1.cad_id")
    expect(page.locator("#conflict-lines")).to_have_text("3")
    accessible(page)
    lookup = {"cad_ids": ["CEMS-501", "CEMS-503"]}
    found = call(
        cluster, "POST", "intake", f"/v1/agencies/{EMS}/roster/lookup", "coordinator", EMS, json=lookup
    )
    assert found["members"] == {"CEMS-501": members[0], "CEMS-503": None}, "nothing moved, nothing imported"
