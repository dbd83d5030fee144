"""The coordinator's and clinician's pages without the services: each is for its own role only (signed
out → sign-in; another role → 403), an address or upload that is not valid is refused naming the field or
the line and never echoing it, and no page needs a service to say so."""

from __future__ import annotations

import httpx
import pytest

from tests.console.support import csrf_of, sign_in

pytestmark = pytest.mark.integration
PAGES = {
    "coordinator": ("/coordinator", "/coordinator/roster", "/coordinator/cad", "/coordinator/cases/c-1"),
    "clinician": ("/clinician", "/clinician/audit", "/clinician/escalations/x-1"),
}
PEOPLE = {
    "coordinator": "u-coord-riverton-fire",
    "clinician": "u-clin-riverton-fire",
    "peer": "p-riverton-fire-01",
}


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in (p for paths in PAGES.values() for p in paths):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/signin", path


@pytest.mark.parametrize("role", ["coordinator", "clinician", "peer"])
async def test_each_page_is_for_its_own_role_only(client: httpx.AsyncClient, role: str) -> None:
    r = await sign_in(client, role, "riverton-fire", PEOPLE[role])
    assert r.status_code == 303
    for owner, paths in PAGES.items():
        if owner == role:
            continue
        for path in paths:
            assert (await client.get(path)).status_code == 403, (role, path)


async def test_an_address_that_is_not_a_reference_names_the_field(client: httpx.AsyncClient) -> None:
    await sign_in(client, "coordinator", "riverton-fire", PEOPLE["coordinator"])
    r = await client.get("/coordinator/cases/c-<b>x")
    assert r.status_code == 422 and "case_id" in r.text and "<b>x" not in r.text
    r = await client.get("/coordinator/roster/p%20x")
    assert r.status_code == 422 and "peer_ref" in r.text


async def test_a_bad_roster_file_names_its_line_never_its_content(client: httpx.AsyncClient) -> None:
    await sign_in(client, "coordinator", "riverton-fire", PEOPLE["coordinator"])
    csrf = csrf_of((await client.get("/coordinator/cad")).text)
    bad = b"cad_id,member_ref\nRFD-1,m-ok\nRFD-2,not a ref <script>\n"
    r = await client.post(
        "/coordinator/cad",
        data={"csrf_token": csrf},
        files={"roster": ("roster.csv", bad, "text/csv")},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 422 and "line 3: member_ref" in r.text
    assert "not a ref" not in r.text and "<script>" not in r.text
    r = await client.post(
        "/coordinator/cad",
        data={"csrf_token": csrf},
        files={"roster": ("roster.csv", b"\xff\xfe\x00", "text/csv")},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 422 and "not UTF-8" in r.text


async def test_a_coordinator_change_needs_the_csrf_token(client: httpx.AsyncClient) -> None:
    await sign_in(client, "coordinator", "riverton-fire", PEOPLE["coordinator"])
    r = await client.post("/coordinator/cases/c-1/assignment", data={"peer_ref": "p-1"})
    assert r.status_code == 403


async def test_without_the_services_the_pages_say_so(client: httpx.AsyncClient) -> None:
    await sign_in(client, "clinician", "riverton-fire", PEOPLE["clinician"])
    r = await client.get("/clinician")
    assert r.status_code == 503 and "not answering" in r.text
