"""A page reaches a person, every service its own process: a risk flag in a peer's contact report pages
the clinician on call by their signed webhook and by e-mail (a real SMTP server started here); a page
that reaches nobody pages the next tier at once instead of after the tier's deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.auth import Role
from tests.notify.receivers import Mailbox, Receiver, verify_signature
from tests.support.cluster import Cluster, events

pytestmark = pytest.mark.e2e
FIRE, POLICE = "riverton-fire", "riverton-police"
SECRET = "agency-pager-secret-0001"
CONTACT = {"mode": "phone", "categories": ["critical_incident"], "duration": "15_30m", "risk_flag": True}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as m:
        yield m


@pytest.fixture(scope="module")
def pager() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Cluster]:
    env = {
        "PEERLINE_SMTP_HOST": "127.0.0.1",
        "PEERLINE_SMTP_PORT": str(mailbox.port),
        "PEERLINE_RETRY_BACKOFF_S": "[0.1, 0.2]",
        "PEERLINE_LINK_BASE": "https://console.example",
    }
    with Cluster(tmp_path_factory.mktemp("paging"), env=env) as c:
        yield c


def auth(c: Cluster, role: Role, agency: str, sub: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {c.token(role, agency, sub)}"}


def contact_point(c: Cluster, agency: str, role: Role, sub: str, body: dict[str, str]) -> None:
    r = httpx.post(f"{c.url('notify')}/v1/me/contacts", json=body, headers=auth(c, role, agency, sub))
    assert r.status_code == 201, r.text


def on_call(c: Cluster, agency: str, role: str, sub: str) -> None:
    now = datetime.now(UTC)
    shift = {
        "ref": sub,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=8)).isoformat(),
    }
    r = httpx.put(
        f"{c.url('notify')}/v1/agencies/{agency}/oncall/{role}",
        json={"shifts": [shift]},
        headers=auth(c, "coordinator", agency, "u-coordinator"),
    )
    assert r.status_code == 200, r.text


def risk_flag(c: Cluster, agency: str) -> str:
    """A member asks; the assigned peer reports a contact with a risk flag. Returns the case id."""
    r = httpx.post(
        f"{c.url('intake')}/v1/requests",
        headers=auth(c, "member", agency),
        json={"agency": agency, "activation": "self"},
    )
    assert r.status_code == 201, r.text
    case_id = str(r.json()["case_id"])
    [assigned] = events(c, f"ev.{agency}.case.{case_id}.peer_assigned")
    peer = assigned.data["peer_ref"]
    logged = httpx.post(
        f"{c.url('tracking')}/v1/agencies/{agency}/cases/{case_id}/contacts",
        headers=auth(c, "peer", agency, peer),
        json=CONTACT,
    )
    assert logged.status_code == 201, logged.text
    return case_id


def until(check: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_a_risk_flag_page_reaches_the_on_call_clinicians_webhook_and_email(
    cluster: Cluster, mailbox: Mailbox, pager: Receiver
) -> None:
    contact_point(
        cluster,
        FIRE,
        "clinician",
        "u-clin-1",
        {"channel": "webhook", "url": pager.url + "/fire", "secret": SECRET},
    )
    contact_point(
        cluster, FIRE, "clinician", "u-clin-1", {"channel": "email", "email": "clin1@riverton.example"}
    )
    contact_point(
        cluster, FIRE, "clinician", "u-clin-9", {"channel": "email", "email": "clin9@riverton.example"}
    )
    on_call(cluster, FIRE, "clinician", "u-clin-1")
    case_id = risk_flag(cluster, FIRE)
    [triggered] = [
        e
        for e in events(cluster, f"ev.{FIRE}.escalation.*.escalation_triggered", 1)
        if e.data["case_id"] == case_id
    ]

    until(lambda: pager.at("/fire") and mailbox.to("clin1@riverton.example"))
    [hook] = pager.at("/fire")
    [mail] = mailbox.to("clin1@riverton.example")
    assert verify_signature(hook, SECRET) and hook.headers["ce-subject"] == "page"
    assert f"/escalations/{triggered.subject}".encode() in hook.body
    assert mail["Subject"] == "Urgent: you are paged for a Peerline escalation — open Peerline now"
    for leaked in (case_id, "critical_incident", "self_harm", "self-harm"):
        assert leaked not in hook.body.decode() and leaked not in mail.as_string()
    assert mailbox.to("clin9@riverton.example") == []  # not on call
    delivered = events(cluster, f"ev.{FIRE}.notice.*.notification_delivered", 2)
    assert {e.data["channel"] for e in delivered if e.data["source_event_id"] == triggered.id} == {
        "webhook",
        "email",
    }


def test_an_undeliverable_page_pages_the_next_tier_at_once(
    cluster: Cluster, mailbox: Mailbox, pager: Receiver
) -> None:
    pager.status["/police"] = 500  # the clinician's paging system is down
    contact_point(
        cluster,
        POLICE,
        "clinician",
        "u-clin-2",
        {"channel": "webhook", "url": pager.url + "/police", "secret": SECRET},
    )
    contact_point(
        cluster, POLICE, "coordinator", "u-coord-2", {"channel": "email", "email": "coord2@riverton.example"}
    )
    on_call(cluster, POLICE, "clinician", "u-clin-2")
    on_call(cluster, POLICE, "coordinator", "u-coord-2")
    case_id = risk_flag(cluster, POLICE)
    [triggered] = [
        e
        for e in events(cluster, f"ev.{POLICE}.escalation.*.escalation_triggered", 1)
        if e.data["case_id"] == case_id
    ]

    [missed] = events(cluster, f"ev.{POLICE}.notice.*.page_missed")
    assert missed.data == {
        "escalation_id": triggered.subject,
        "tier": 1,
        "role": "clinician",
        "reason": "all_channels_failed",
    }
    [advanced] = events(cluster, f"ev.{POLICE}.escalation.{triggered.subject}.escalation_tier_advanced")
    assert advanced.data == {"tier": 2, "role": "coordinator"}
    deadline = triggered.data["chain"][0]["ack_within_s"]
    assert advanced.time - triggered.time < timedelta(seconds=deadline)  # not the deadline: the missed page
    assert len(pager.at("/police")) == 3  # tried, retried twice, then given up
    until(lambda: mailbox.to("coord2@riverton.example"))
    [mail] = mailbox.to("coord2@riverton.example")
    assert "paged" in mail["Subject"]
