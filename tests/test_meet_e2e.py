"""The member meets the peer, every service its own process on an authenticated bus. A member asks → the
offered peer gets a Web Push (decrypted here with the browser's keys) and an e-mail (a real SMTP server
started here) within a second of the offer → sees the offer in their list, accepts → the member's case
view shows the peer's chosen name and work channels. A callback the member leaves is released to that
peer alone and cannot be opened by anyone once the case is closed. The demo peers' contact points and
profiles are seeded as `peerline up` seeds them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.intake.settings import IntakeSettings
from services.intake.vault import Vault, vault_engine
from services.intake.vault.keys import KeyUnavailable
from shared.auth import Role
from shared.demo_people import seed_people
from tests.notify.receivers import Browser, Mailbox, Receiver
from tests.support import numbers
from tests.support.cluster import Cluster, events

pytestmark = pytest.mark.e2e
EMS = "county-ems"  # ten demo peers; the seventh is off duty
CALLBACK = "+1 555 0100 999"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as m:
        yield m


@pytest.fixture(scope="module")
def push_service() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def browsers() -> dict[str, Browser]:
    return {f"p-{EMS}-{n:02d}": Browser() for n in range(1, 11)}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: Mailbox,
    push_service: Receiver,
    browsers: dict[str, Browser],
) -> Iterator[Cluster]:
    env = {
        "PEERLINE_SMTP_HOST": "127.0.0.1",
        "PEERLINE_SMTP_PORT": str(mailbox.port),
        "PEERLINE_SMS_ADAPTER": "log",  # as `peerline up` runs notify
        "PEERLINE_LINK_BASE": "https://console.example",
    }
    with Cluster(tmp_path_factory.mktemp("meet"), env=env) as c:
        assert seed_people(c.private_key, c.url("notify"), c.url("matching")) == 30
        assert seed_people(c.private_key, c.url("notify"), c.url("matching")) == 0  # safe to run again
        for peer, browser in browsers.items():
            sub = browser.subscription(f"{push_service.url}/push/{peer}")
            body = {"channel": "push", "subscription": sub}
            r = httpx.post(f"{c.url('notify')}/v1/me/contacts", json=body, headers=auth(c, "peer", EMS, peer))
            assert r.status_code == 201, r.text
        yield c


def auth(c: Cluster, role: Role, agency: str, sub: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {c.token(role, agency, sub)}"}


def until(check: Any, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return check()


def ask(c: Cluster) -> tuple[str, dict[str, str]]:
    r = httpx.post(
        f"{c.url('intake')}/v1/requests",
        headers=auth(c, "member", EMS),
        json={"agency": EMS, "activation": "self"},
    )
    assert r.status_code == 201, r.text
    return r.json()["case_id"], {"X-Case-Token": r.json()["case_token"]}


def member_view(c: Cluster, case_id: str, token: dict[str, str], status: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        r = httpx.get(f"{c.url('intake')}/v1/requests/{case_id}", headers=token)
        if r.status_code != 200 or r.json()["status"] != status:
            return None
        # intake's view and matching's (which the card comes from) catch up separately: the card follows
        return None if status == "accepted" and r.json()["peer"] is None else r.json()

    found: dict[str, Any] | None = until(seen)
    assert found is not None, (case_id, status)
    return found


def accept(c: Cluster, case_id: str, peer: str) -> None:
    offers = f"{c.url('matching')}/v1/agencies/{EMS}/peers/{peer}/offers"
    listed = until(lambda: httpx.get(offers, headers=auth(c, "peer", EMS, peer)).json())
    assert [o["case_id"] for o in listed] == [case_id] and listed[0]["respond_by"]
    url = f"{c.url('matching')}/v1/agencies/{EMS}/peers/{peer}/assignments/{case_id}/accept"
    r = httpx.post(url, json={"case_agency": EMS}, headers=auth(c, "peer", EMS, peer))
    assert r.status_code == 200, r.text


def test_the_offered_peer_is_told_accepts_and_the_member_sees_how_to_reach_them(
    cluster: Cluster, mailbox: Mailbox, push_service: Receiver, browsers: dict[str, Browser]
) -> None:
    case_id, token = ask(cluster)
    offered = member_view(cluster, case_id, token, "offered")
    assert offered["peer"] is None and any(line["call"] == "988" for line in offered["crisis_lines"])
    [assigned] = events(cluster, f"ev.{EMS}.case.{case_id}.peer_assigned")
    peer = assigned.data["peer_ref"]

    assert until(lambda: push_service.at(f"/push/{peer}") and mailbox.to(f"{peer}@peers.{EMS}.invalid"))
    [pushed] = push_service.at(f"/push/{peer}")
    shown = browsers[peer].decrypt(pushed.body)
    assert shown["body"] == "You have a new peer-support request — open Peerline"
    assert shown["url"] == f"https://console.example/peer/offers/{case_id}"
    [mail] = mailbox.to(f"{peer}@peers.{EMS}.invalid")
    assert mail["Subject"] == shown["body"]

    def outcomes() -> list[Any]:  # each channel records its own outcome, in whatever order they finish
        found = events(cluster, f"ev.{EMS}.notice.*.notification_delivered", within=0)
        mine = [e for e in found if e.data["source_event_id"] == assigned.id]
        return mine if {e.data["channel"] for e in mine} >= {"push", "email"} else []

    delivered = until(outcomes)
    assert {e.data["channel"] for e in delivered} >= {"push", "email"}, delivered
    for outcome in delivered:  # as recorded on the log: told within a second of the offer
        assert outcome.time - assigned.time < timedelta(seconds=1), outcome.data
    others = [p for p in browsers if p != peer]
    assert not any(push_service.at(f"/push/{p}") for p in others)

    accept(cluster, case_id, peer)
    seen = member_view(cluster, case_id, token, "accepted")
    n = int(peer.rsplit("-", 1)[1])
    assert seen["who_contacts"] == "member_contacts_peer"
    assert seen["peer"]["agency"] == EMS and seen["peer"]["discipline"] in ("ems", "dispatch")
    assert seen["peer"]["display_name"].endswith(f"({EMS})") and seen["peer"]["phone"].startswith("+1555010")
    assert seen["peer"]["phone"].endswith(f"{n:03d}")


def test_a_callback_reaches_the_accepting_peer_only_and_is_unrecoverable_after_closing(
    cluster: Cluster,
) -> None:
    case_id, token = ask(cluster)
    r = httpx.post(
        f"{cluster.url('intake')}/v1/requests/{case_id}/callback",
        json={"channel": "text", "number": CALLBACK},
        headers=token,
    )
    assert r.status_code == 201, r.text
    [assigned] = events(cluster, f"ev.{EMS}.case.{case_id}.peer_assigned")
    peer = assigned.data["peer_ref"]
    other = next(f"p-{EMS}-{n:02d}" for n in range(1, 11) if f"p-{EMS}-{n:02d}" != peer)
    accept(cluster, case_id, peer)
    seen = member_view(cluster, case_id, token, "accepted")
    assert seen["who_contacts"] == "peer_contacts_member" and seen["callback"] == "left"

    url = f"{cluster.url('intake')}/v1/agencies/{EMS}/cases/{case_id}/callback"
    assert httpx.get(url, headers=auth(cluster, "peer", EMS, other)).status_code == 403
    got = httpx.get(url, headers=auth(cluster, "peer", EMS, peer))
    assert got.status_code == 200 and got.json()["number"] == CALLBACK
    [released] = events(cluster, f"ev.{EMS}.case.{case_id}.callback_released")
    assert released.data["peer_ref"] == peer
    case_log = [e.data for e in events(cluster, f"ev.{EMS}.case.{case_id}.>", 5)]
    assert not numbers.shows(str(case_log), CALLBACK)

    close = f"{cluster.url('tracking')}/v1/agencies/{EMS}/cases/{case_id}/close"
    closed = httpx.post(close, json={"outcome": "supported"}, headers=auth(cluster, "coordinator", EMS))
    assert closed.status_code == 200, closed.text
    member_view(cluster, case_id, token, "closed")
    assert httpx.get(url, headers=auth(cluster, "peer", EMS, peer)).status_code == 403
    settings = IntakeSettings(var_dir=cluster.workdir)  # the vault as it is on disk, with its KEK
    vault = Vault(vault_engine(settings.vault_db_url()), settings.keyring())
    assert vault.callbacks.sealed(case_id) is not None
    with pytest.raises(KeyUnavailable):
        vault.callbacks.open(case_id)
    vault.engine.dispose()
