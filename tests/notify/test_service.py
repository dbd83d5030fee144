"""Notify end to end in one process: events on the log in, messages on real channels and outcomes on the
log out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.notify.tables import contacts, deliveries
from shared.contracts.escalation import EscalationTriggered, Tier
from shared.contracts.matching import CoordinatorAlerted, PeerAssigned
from shared.contracts.wellness import DebriefOffered
from tests.notify.conftest import A, Rig, dead_letters, eventually
from tests.notify.receivers import Browser, verify_signature

pytestmark = pytest.mark.integration
SECRET = "pager-secret-0123456789"
CHAIN = (Tier(role="clinician", ack_within_s=600), Tier(role="coordinator", ack_within_s=600))


def triggered(case_id: str = "c-1") -> EscalationTriggered:
    return EscalationTriggered(
        case_id=case_id, category="imminent_self_harm", raised_by_role="peer", policy_version=1,
        disclosable=True, chain=CHAIN,
    )  # fmt: skip


async def on_call(rig: Rig, role: str, *refs: str, agency: str = A) -> None:
    now = datetime.now(UTC)
    shifts = [
        {
            "ref": r,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=8)).isoformat(),
        }
        for r in refs
    ]
    r = await rig.api.put(
        f"/v1/agencies/{agency}/oncall/{role}",
        json={"shifts": shifts},
        headers=rig.auth("coordinator", "u-coord"),
    )
    assert r.status_code == 200, r.text


async def test_an_offer_reaches_the_peer_by_push_and_email_once_and_outcomes_reach_the_log(rig: Rig) -> None:
    browser = Browser()
    push = {"channel": "push", "subscription": browser.subscription(rig.receiver.url + "/push/p-7")}
    await rig.add_contact("peer", "p-7", push)
    await rig.add_contact("peer", "p-7", {"channel": "email", "email": "peer7@riverton.example"})
    offer = await rig.publish(PeerAssigned(peer_ref="p-7", peer_agency=A, assignment_id="a-1"), "c-42")
    await rig.publish(
        PeerAssigned(peer_ref="p-7", peer_agency=A, assignment_id="a-1"), "c-42"
    )  # another event

    [mail, *_] = await eventually(lambda: _async(rig.mailbox.to("peer7@riverton.example")))
    [hit, *_] = await eventually(lambda: _async(rig.receiver.at("/push/p-7")))
    assert mail["Subject"] == "You have a new peer-support request — open Peerline"
    payload = browser.decrypt(hit.body)
    assert payload["url"] == "https://console.example/peer/offers/c-42" and payload["body"] == mail["Subject"]

    delivered = await eventually(lambda: _at_least(rig.events("ev.*.notice.*.notification_delivered"), 4))
    assert {e.data["channel"] for e in delivered} == {"push", "email"}
    assert offer.id in {e.data["source_event_id"] for e in delivered}
    assert all("p-7" not in e.to_bytes().decode() and "peer7" not in e.to_bytes().decode() for e in delivered)
    assert len(rig.mailbox.to("peer7@riverton.example")) == 2  # one per event, not per delivery attempt


async def test_contact_points_are_sealed_at_rest(rig: Rig) -> None:
    await rig.add_contact(
        "clinician", "u-clin", {"channel": "webhook", "url": "https://pager.example/h", "secret": SECRET}
    )
    with rig.app.engine.connect() as conn:
        [sealed] = conn.execute(select(contacts.c.sealed)).scalars()
    assert b"pager.example" not in sealed and SECRET.encode() not in sealed
    listed = (await rig.api.get("/v1/me/contacts", headers=rig.auth("clinician", "u-clin"))).json()
    assert listed[0]["shown"] == "https://pager.example/h" and SECRET not in str(listed)
    others = (await rig.api.get("/v1/me/contacts", headers=rig.auth("clinician", "u-other"))).json()
    assert others == []


async def test_a_page_reaches_the_on_call_clinician_by_signed_webhook_and_email(rig: Rig) -> None:
    await rig.add_contact(
        "clinician", "u-clin", {"channel": "webhook", "url": rig.receiver.url + "/pager", "secret": SECRET}
    )
    await rig.add_contact("clinician", "u-clin", {"channel": "email", "email": "clin@riverton.example"})
    await rig.add_contact("clinician", "u-off", {"channel": "email", "email": "off@riverton.example"})
    await on_call(rig, "clinician", "u-clin")
    await rig.publish(triggered(), "x-1")
    [hit] = await eventually(lambda: _async(rig.receiver.at("/pager")))
    await eventually(lambda: _async(rig.mailbox.to("clin@riverton.example")))
    assert verify_signature(hit, SECRET) and b"/escalations/x-1" in hit.body
    assert rig.mailbox.to("off@riverton.example") == []  # not on call
    assert await rig.events("ev.*.notice.*.page_missed") == []


async def test_a_page_whose_channels_all_fail_is_retried_dead_lettered_and_missed(rig: Rig) -> None:
    rig.receiver.status["/pager"] = 500
    await rig.add_contact(
        "clinician", "u-clin", {"channel": "webhook", "url": rig.receiver.url + "/pager", "secret": SECRET}
    )
    await on_call(rig, "clinician", "u-clin")
    await rig.publish(triggered(), "x-2")
    [missed] = await eventually(lambda: rig.events("ev.*.notice.*.page_missed"))
    assert missed.data == {
        "escalation_id": "x-2",
        "tier": 1,
        "role": "clinician",
        "reason": "all_channels_failed",
    }
    assert len(rig.receiver.at("/pager")) == 3  # the first try and two retries
    [letter] = await eventually(lambda: dead_letters(rig.js))
    assert letter["Peerline-Reason"] == "webhook: refused" and "pager" not in letter["body"]
    [failed] = await rig.events("ev.*.notice.*.notification_undeliverable")
    assert failed.data["attempts"] == 3 and failed.data["reason"] == "refused"


async def test_a_page_with_nobody_on_call_is_missed_at_once(rig: Rig) -> None:
    await rig.publish(triggered(), "x-3", agency="county-ems")
    [missed] = await eventually(lambda: rig.events("ev.*.notice.*.page_missed"))
    assert missed.agency == "county-ems" and missed.data["reason"] == "nobody_on_call"


async def test_quiet_hours_hold_an_offer_but_not_a_page(rig: Rig) -> None:
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    who = rig.auth("clinician", "u-clin")
    r = await rig.api.put("/v1/me/preferences", json={"tz": "UTC", "quiet_hours": quiet}, headers=who)
    assert r.status_code == 200, r.text
    await rig.add_contact("clinician", "u-clin", {"channel": "email", "email": "clin@riverton.example"})
    await on_call(rig, "clinician", "u-clin")
    await rig.publish(
        PeerAssigned(peer_ref="u-clin", peer_agency=A), "c-9"
    )  # the clinician is also a peer here
    await rig.publish(triggered(), "x-4")
    [page] = await eventually(lambda: _async(rig.mailbox.to("clin@riverton.example")))
    assert "paged" in page["Subject"]
    with rig.app.engine.connect() as conn:
        held = conn.execute(select(deliveries).where(deliveries.c.link == "/peer/offers/c-9")).one()
    assert held.status == "pending" and held.due_at.replace(tzinfo=UTC) > now + timedelta(minutes=50)


async def test_a_peer_is_reachable_while_they_have_a_working_channel(rig: Rig) -> None:
    cid = await rig.add_contact("peer", "p-3", {"channel": "sms", "phone": "+15550107788"})
    [up] = await eventually(lambda: rig.events("ev.*.reach.p-3.peer_reachability_changed"))
    assert up.data == {"peer_ref": "p-3", "reachable": True}
    asked = await rig.api.get(
        f"/v1/agencies/{A}/reachability",
        params={"peer_ref": ["p-3", "p-4"]},
        headers=rig.auth("coordinator", "u-c"),
    )
    assert asked.json() == {"reachable": {"p-3": True, "p-4": False}}
    gone = await rig.api.delete(f"/v1/me/contacts/{cid}", headers=rig.auth("peer", "p-3"))
    assert gone.status_code == 204
    changes = await eventually(lambda: _at_least(rig.events("ev.*.reach.p-3.peer_reachability_changed"), 2))
    assert [e.data["reachable"] for e in changes] == [True, False]
    assert "+1555" not in str([e.data for e in changes])


async def _async(value: list) -> list:  # type: ignore[type-arg]
    return value


async def _at_least(found, n: int) -> list:  # type: ignore[no-untyped-def,type-arg]
    got = await found
    return got if len(got) >= n else []


async def test_responders_hear_of_offers_only_when_they_opted_in_and_coordinators_of_unmatched_requests(
    rig: Rig,
) -> None:
    for ref, opt_in in (("m-quiet", False), ("m-keen", True)):
        await rig.add_contact("member", ref, {"channel": "email", "email": f"{ref}@riverton.example"})
        r = await rig.api.put("/v1/me/preferences", json={"opt_in": opt_in}, headers=rig.auth("member", ref))
        assert r.status_code == 200, r.text
    await rig.add_contact("coordinator", "u-coord", {"channel": "email", "email": "coord@riverton.example"})
    for ref in ("m-quiet", "m-keen"):
        offer = DebriefOffered(
            incident_id="i-1", incident_agency=A, member_ref=ref, role="crew", offer_type="debrief",
            window_opens="2026-01-05T10:00:00Z", window_closes="2026-01-08T10:00:00Z",
        )  # fmt: skip
        await rig.publish(offer, f"d-{ref}")
    await rig.publish(CoordinatorAlerted(reason="request_unmatched", case_agency=A), "c-77")
    [alert] = await eventually(lambda: _async(rig.mailbox.to("coord@riverton.example")))
    assert alert["Subject"] == "A support request is waiting for a peer — open Peerline"
    [offer_mail] = await eventually(lambda: _async(rig.mailbox.to("m-keen@riverton.example")))
    assert "voluntary" in offer_mail["Subject"]
    with rig.app.engine.connect() as conn:  # the inbox took the events in order: m-quiet's is settled
        links = set(conn.execute(select(deliveries.c.link)).scalars())
    assert "/me/debriefs/d-m-quiet" not in links and rig.mailbox.to("m-quiet@riverton.example") == []
