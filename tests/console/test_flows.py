"""The console's pages against every real service, through rendered HTML: a member's request from the
advisement to cancelling, a peer's day, a responder's own pages, and each person's notification channels."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.console.stack import wait_for_event
from tests.console.support import csrf_of, sign_in
from tests.support import numbers
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
SAME = {"Sec-Fetch-Site": "same-origin"}
FIRE = "riverton-fire"
MEMBER = ("member", FIRE, "m-demo-riverton-fire")


async def post(client: httpx.AsyncClient, path: str, form: dict[str, str] | None = None) -> httpx.Response:
    token = csrf_of((await client.get("/resources")).text)
    return await client.post(path, data={"csrf_token": token, **(form or {})}, headers=SAME)


async def test_a_member_reads_the_advisement_asks_follows_and_cancels(
    live: httpx.AsyncClient, stack: tuple[Cluster, str]
) -> None:
    await sign_in(live, *MEMBER)
    ask = (await live.get("/member")).text
    assert ask.index('class="advisement"') < ask.index('id="ask-now"'), "the advisement comes before asking"
    assert "When confidentiality ends" in ask and "court order" in ask

    asked = await post(live, "/member/requests", {"agency_scope": "own", "language": "fr"})
    assert asked.status_code == 303
    case_id = asked.headers["location"].rsplit("/", 1)[1]
    requested = wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.support_requested")
    assert requested.data["preferences"]["language"] == "fr"

    page = await live.get(f"/member/cases/{case_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'data-live="/member/cases/{case_id}/live"' in page.text

    cancelled = await post(live, f"/member/cases/{case_id}/cancel")
    assert cancelled.status_code == 303
    wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.request_cancelled")
    stream = await live.get(f"/member/cases/{case_id}/live")  # ends with the case
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "event: status" in stream.text  # the fragment as HTML, not JSON-quoted:
    assert re.search(r'data-status="cancelled"', stream.text)


async def test_a_member_sees_only_their_own_requests(live: httpx.AsyncClient) -> None:
    await sign_in(live, *MEMBER)
    assert (await live.get("/member/cases/c-not-mine")).status_code == 404


async def test_a_peer_sees_their_load_and_why_and_takes_a_break(
    live: httpx.AsyncClient, stack: tuple[Cluster, str]
) -> None:
    await sign_in(live, "peer", FIRE, "p-riverton-fire-04")
    home = await live.get("/peer")
    assert home.status_code == 200
    assert 'data-load="available"' in home.text and "Active cases" in home.text
    assert (await post(live, "/peer/break")).status_code == 303
    wait_for_event(stack[0], f"ev.{FIRE}.peer.p-riverton-fire-04.peer_break_requested")


async def test_a_contact_on_a_case_the_peer_does_not_hold_is_refused_plainly(live: httpx.AsyncClient) -> None:
    await sign_in(live, "peer", FIRE, "p-riverton-fire-05")
    form = {"mode": "phone", "categories": "grief", "duration": "under_15m", "report_id": "r-1"}
    r = await post(live, "/peer/cases/c-nobody/contacts", form)
    assert r.status_code in (403, 404) and "That did not work" in r.text


async def test_a_responder_sees_their_debriefs_and_check_in_and_command_is_not_named(
    live: httpx.AsyncClient,
) -> None:
    await sign_in(live, *MEMBER)
    debriefs = await live.get("/me/debriefs")
    assert debriefs.status_code == 200 and "Your command does not" in debriefs.text
    checkin = await live.get("/me/checkins")
    assert checkin.status_code == 200 and "Critical incidents in the last days" in checkin.text


async def ask(live: httpx.AsyncClient, stack: tuple[Cluster, str]) -> tuple[str, str]:
    """A member asks; (case_id, the offered peer's ref)."""
    await sign_in(live, *MEMBER)
    asked = await post(live, "/member/requests", {"agency_scope": "own"})
    case_id = asked.headers["location"].rsplit("/", 1)[1]
    offered = wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.peer_assigned")
    return case_id, offered.data["peer_ref"]


async def page_with(client: httpx.AsyncClient, path: str, text: str, shown: bool = True) -> str:
    """The page once it shows `text` (or no longer does): the services' views follow the log a moment
    later."""
    for _ in range(100):
        page = (await client.get(path)).text
        if (text in page) == shown:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} {'never showed' if shown else 'kept showing'} {text!r}")


async def test_a_peer_sees_the_offer_with_its_time_left_and_declines_with_a_code_only(
    live: httpx.AsyncClient, live_peer: httpx.AsyncClient, stack: tuple[Cluster, str]
) -> None:
    case_id, peer_ref = await ask(live, stack)
    await sign_in(live_peer, "peer", FIRE, peer_ref)
    inbox = await page_with(live_peer, "/peer/inbox", f'data-case="{case_id}"')
    assert 'hx-trigger="every 5s"' in inbox
    left = re.search(rf'data-case="{case_id}".*?data-seconds="(\d+)"', inbox, re.S)
    assert left and 0 < int(left.group(1)) <= 60 * 60
    fragment = (await live_peer.get("/peer/inbox/offers")).text
    assert f'data-case="{case_id}"' in fragment and "<html" not in fragment
    offer = (await live_peer.get(f"/peer/offers/{case_id}")).text
    assert 'value="not_my_skill"' in offer and 'value="overloaded"' in offer

    free_text = {"case_agency": FIRE, "reason": "my kid is sick"}
    refused = await post(live_peer, f"/peer/offers/{case_id}/decline", free_text)
    assert refused.status_code == 422 and "my kid" not in refused.text
    declined = await post(
        live_peer, f"/peer/offers/{case_id}/decline", {"case_agency": FIRE, "reason": "overloaded"}
    )
    assert declined.status_code == 303
    event = wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.assignment_declined")
    assert event.data["reason"] == "overloaded" and event.data["peer_ref"] == peer_ref
    await page_with(live_peer, "/peer/inbox", f'data-case="{case_id}"', shown=False)


async def test_a_member_leaves_a_callback_meets_the_peer_who_reads_it_and_crisis_lines_show_throughout(
    live: httpx.AsyncClient, live_peer: httpx.AsyncClient, stack: tuple[Cluster, str]
) -> None:
    case_id, peer_ref = await ask(live, stack)
    page = (await live.get(f"/member/cases/{case_id}")).text
    assert "988" in page and 'data-prominent="false"' in page and 'id="callback-form"' in page
    bad = await post(live, f"/member/cases/{case_id}/callback", {"channel": "phone", "number": "call <me>"})
    assert bad.status_code == 422 and "call &lt;me&gt;" not in bad.text
    left = await post(
        live, f"/member/cases/{case_id}/callback", {"channel": "text", "number": "+1 555 0100 321"}
    )
    assert left.status_code == 303
    sealed = wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.callback_left")
    assert not numbers.shows(str(sealed.data), "+1 555 0100 321")

    await sign_in(live_peer, "peer", FIRE, peer_ref)
    assert (await post(live_peer, f"/peer/offers/{case_id}/accept", {"case_agency": FIRE})).status_code == 303
    wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.assignment_accepted")
    await page_with(live, f"/member/cases/{case_id}", 'data-status="accepted"')  # intake's view has it
    shown = await post(live_peer, f"/peer/cases/{case_id}/callback")
    assert shown.status_code == 200 and 'href="sms:+15550100321"' in shown.text
    released = wait_for_event(stack[0], f"ev.{FIRE}.case.{case_id}.callback_released")
    assert not numbers.shows(str(released.data), "+1 555 0100 321")

    page = await page_with(live, f"/member/cases/{case_id}", "Your peer has your callback number")
    assert 'data-status="accepted"' in page and 'class="peer-card"' in page
    assert "Your peer will contact you" in page and "Your peer has your callback number" in page
    assert "988" in page and 'id="callback-form"' not in page


async def test_anyone_reads_the_agencys_advisement_crisis_lines_and_directory_without_signing_in(
    live: httpx.AsyncClient,
) -> None:
    page = (await live.get("/resources", params={"agency": FIRE})).text
    for kind in ("crisis_line", "employee_assistance", "clinician", "chaplain"):
        assert f'data-kind="{kind}"' in page
    assert "Safe Call Now" in page and "When confidentiality ends" in page and "court order" in page
    assert (await live.get("/resources", params={"agency": "<b>x"})).status_code == 422


# Last: once notify reports on an agency, matching leaves out the peers it has said nothing about, so
# the requests above would find no peer after this.
async def test_each_person_manages_their_own_channels_and_quiet_hours(live: httpx.AsyncClient) -> None:
    await sign_in(live, "peer", FIRE, "p-riverton-fire-06")
    assert (await post(live, "/me/notifications/email", {"email": "peer6@example.org"})).status_code == 303
    quiet = {"tz": "America/Toronto", "start": "22:00", "end": "06:30"}
    assert (await post(live, "/me/notifications/quiet", quiet)).status_code == 303
    page = (await live.get("/me/notifications")).text
    assert "peer6@example.org" in page and 'value="22:00"' in page and 'value="America/Toronto"' in page
    assert 'id="push-on"' in page and 'data-key="' in page
    bad = await post(live, "/me/notifications/email", {"email": "not-an-address"})
    assert bad.status_code == 422 and "not-an-address" not in bad.text.split("<main", 1)[1]
