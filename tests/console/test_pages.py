"""The console's own behaviour through its rendered HTML: headers, session cookie, CSRF, sign-in, quick
exit, languages, escaping, and a clear page (never a 500) when a service does not answer."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from services.console.rendering import templates
from services.console.sessions import COOKIE
from tests.console.support import csrf_of, sign_in

pytestmark = pytest.mark.unit
SAME = {"Sec-Fetch-Site": "same-origin"}


async def test_every_page_has_a_nonce_csp_that_forbids_framing_and_is_not_cached(
    client: httpx.AsyncClient,
) -> None:
    first, second = await client.get("/"), await client.get("/resources")
    for r in (first, second):
        assert r.status_code == 200
        policy = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce and f'nonce="{nonce.group(1)}"' in r.text
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert r.headers["cache-control"] == "no-store"
    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]


async def test_the_session_cookie_is_host_prefixed_secure_httponly_and_same_site(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie


async def test_a_state_change_needs_the_csrf_token_and_a_same_origin_request(
    client: httpx.AsyncClient,
) -> None:
    token = csrf_of((await client.get("/")).text)
    assert (await client.post("/lang", data={"lang": "fr"}, headers=SAME)).status_code == 403
    wrong = {"lang": "fr", "csrf_token": "not-it"}
    assert (await client.post("/lang", data=wrong, headers=SAME)).status_code == 403
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert (
        await client.post("/lang", data={"lang": "fr", "csrf_token": token}, headers=cross)
    ).status_code == 403
    ok = await client.post("/lang", data={"lang": "fr"}, headers={**SAME, "X-CSRF-Token": token})
    assert ok.status_code == 303
    assert "Sortie rapide" in (await client.get("/")).text


async def test_french_follows_the_browser_and_the_page_says_its_language(client: httpx.AsyncClient) -> None:
    fr = await client.get("/resources", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert '<html lang="fr">' in fr.text and "Lignes de crise" in fr.text
    en = await client.get("/resources", headers={"Accept-Language": "en-CA"})
    assert '<html lang="en">' in en.text and "Crisis lines" in en.text


async def test_crisis_lines_and_resources_are_readable_without_signing_in(client: httpx.AsyncClient) -> None:
    for path in ("/", "/resources"):
        r = await client.get(path)
        assert r.status_code == 200 and "9-8-8" in r.text and "9-1-1" in r.text


async def test_dev_sign_in_lists_people_by_role_and_starts_a_new_session(client: httpx.AsyncClient) -> None:
    page = await client.get("/signin")
    assert 'id="role-member"' in page.text and 'id="role-peer"' in page.text
    assert 'data-person="p-riverton-fire-01"' in page.text
    before = client.cookies[COOKIE]
    r = await sign_in(client, "peer", "riverton-fire", "p-riverton-fire-01")
    assert r.status_code == 303 and r.headers["location"] == "/peer"
    assert client.cookies[COOKIE] != before, "the session id changes at sign-in"
    assert "Sign out" in (await client.get("/resources")).text


async def test_only_the_listed_demo_people_can_be_signed_in_as(client: httpx.AsyncClient) -> None:
    r = await sign_in(client, "coordinator", "riverton-fire", "u-someone")
    assert r.status_code == 422
    assert "Sign out" not in (await client.get("/")).text


async def test_pages_for_signed_in_people_send_others_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/member", "/peer", "/peer/offers/c-1", "/me/debriefs", "/me/notifications"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/signin", path


async def test_a_peer_cannot_open_member_pages(client: httpx.AsyncClient) -> None:
    await sign_in(client, "peer", "riverton-fire", "p-riverton-fire-01")
    assert (await client.get("/member")).status_code == 403


async def test_what_comes_from_the_address_is_escaped(client: httpx.AsyncClient) -> None:
    await sign_in(client, "peer", "riverton-fire", "p-riverton-fire-01")
    r = await client.get("/peer/offers/c-<b>x", params={"agency": "<i>y</i>"})
    assert r.status_code == 200
    assert "<b>x" not in r.text and "<i>y</i>" not in r.text
    assert "&lt;i&gt;y&lt;/i&gt;" in r.text


async def test_quick_exit_ends_the_session_and_clears_the_site(client: httpx.AsyncClient) -> None:
    await sign_in(client, "member", "riverton-fire", "m-demo-riverton-fire")
    token = csrf_of((await client.get("/resources")).text)
    r = await client.post("/exit", data={"csrf_token": token}, headers=SAME)
    assert r.status_code == 303 and r.headers["location"] == "/bye"
    assert r.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert (await client.get("/member")).headers.get("location") == "/signin"
    bye = await client.get("/bye")
    assert "Peerline" not in bye.text


async def test_a_service_that_does_not_answer_gives_a_clear_page_not_a_500(client: httpx.AsyncClient) -> None:
    await sign_in(client, "member", "riverton-fire", "m-demo-riverton-fire")
    r = await client.get("/member")
    assert r.status_code == 503
    assert "not answering" in r.text and "9-8-8" in r.text


async def test_the_app_is_installable_and_its_worker_is_served_from_the_root(
    client: httpx.AsyncClient,
) -> None:
    manifest = json.loads((await client.get("/manifest.webmanifest")).text)
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone" and manifest["icons"]
    worker = await client.get("/sw.js")
    assert worker.status_code == 200 and "showNotification" in worker.text
    page = (await client.get("/")).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


async def test_htmx_is_served_from_the_app_pinned_to_2_0(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert 'src="/static/htmx-2.0.11.min.js"' in page and "//unpkg" not in page and "cdn" not in page
    script = await client.get("/static/htmx-2.0.11.min.js")
    assert script.status_code == 200 and 'version:"2.0.11"' in script.text.replace(" ", "")
    assert 'hx-headers=\'{"X-CSRF-Token"' in page


async def test_without_intake_the_resources_page_still_gives_the_emergency_lines(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/resources")).text
    assert 'id="directory-unavailable"' in page and "9-1-1" in page and "9-8-8" in page


def test_an_unmatched_member_sees_the_crisis_lines_first_and_prominently() -> None:
    lines = [{"name": "988 Suicide & Crisis Lifeline", "call": "988", "text": "988", "hours": "24/7"}]
    case = {"case_id": "c-1", "status": "unmatched", "crisis_lines": lines, "crisis_lines_prominent": True}
    html = templates.get_template("member/_status.html").render(case=case, _=str)
    assert 'data-prominent="true"' in html and "Talk to someone now" in html and 'href="tel:988"' in html
