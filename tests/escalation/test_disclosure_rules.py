"""Disclosure takes two people and sane bounds, through HTTP and NATS: whoever raises a concern is involved
in the case and cannot acknowledge it; a clinician can take over a page another role answered; a policy
change needs a second person; a policy's deadlines are bounded; a message the reactor cannot read goes to
PEERLINE_DLQ instead of coming back for ever."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.contracts.escalation import EscalationTriggered
from shared.contracts.tracking import ContactLogged
from shared.envelope import STREAM
from shared.topology import DLQ_STREAM
from tests.escalation.conftest import AGENCY, Harness, VaultDouble

pytestmark = pytest.mark.integration
BASE = f"/v1/agencies/{AGENCY}"
POLICY = {
    "jurisdiction": "narrow-duty",
    "disclosable": ["threat_to_identifiable_person", "court_order"],
    "chain": [{"role": "clinician", "ack_within_s": 300}],
}


async def test_a_policy_with_an_unbounded_deadline_is_refused_at_the_route(h: Harness) -> None:
    admin = h.token("regional_admin", "u-admin")
    async with h.client() as c:
        for tier in ({"role": "clinician", "ack_within_s": 10**30}, {"role": "clinician", "ack_within_s": 0}):
            r = await c.put(f"{BASE}/disclosure-policy", json={**POLICY, "chain": [tier]}, headers=admin)
            assert r.status_code == 422 and "ack_within_s" in r.text, r.text
        r = await c.put(
            f"{BASE}/disclosure-policy", json={**POLICY, "chain": [POLICY["chain"][0]] * 6}, headers=admin
        )
        assert r.status_code == 422 and "chain" in r.text


async def test_a_policy_change_takes_effect_only_when_a_second_person_approves_it(h: Harness) -> None:
    async with h.client() as c:
        proposer = h.token("coordinator", "u-co1")
        r = await c.put(f"{BASE}/disclosure-policy", json=POLICY, headers=proposer)
        assert r.status_code == 202 and r.json()["status"] == "proposed", r.text
        proposal = {"proposal_id": r.json()["proposal_id"]}
        current = await c.get(f"{BASE}/disclosure-policy", headers=proposer)
        assert current.json()["policy_version"] == 1  # not in force yet
        waiting = await c.get(f"{BASE}/disclosure-policy/proposal", headers=h.token("regional_admin", "u-a"))
        assert waiting.status_code == 200 and waiting.json()["proposal_id"] == proposal["proposal_id"]
        assert (
            waiting.json()["proposed_by"] == "u-co1"
            and waiting.json()["jurisdiction"] == POLICY["jurisdiction"]
        )
        alone = await c.post(f"{BASE}/disclosure-policy/approval", json=proposal, headers=proposer)
        assert alone.status_code == 409 and "second person" in alone.json()["detail"]
        wrong = await c.post(
            f"{BASE}/disclosure-policy/approval",
            json={"proposal_id": "pp-nope"},
            headers=h.token("coordinator", "u-co2"),
        )
        assert wrong.status_code == 409 and wrong.json()["detail"].startswith("proposal_id:")
        ok = await c.post(
            f"{BASE}/disclosure-policy/approval", json=proposal, headers=h.token("coordinator", "u-co2")
        )
        assert ok.status_code == 200 and ok.json()["policy_version"] == 2, ok.text
        again = await c.post(
            f"{BASE}/disclosure-policy/approval", json=proposal, headers=h.token("regional_admin", "u-a")
        )
        assert again.status_code == 409  # settled: nothing waits any more
        none = await c.get(f"{BASE}/disclosure-policy/proposal", headers=proposer)
        assert none.status_code == 404
        same = await c.put(f"{BASE}/disclosure-policy", json=POLICY, headers=h.token("regional_admin", "u-a"))
        assert same.status_code == 202 and same.json()["status"] == "unchanged"
    recorded = [e for e in await h.events("policy", "disclosure") if e.name == "disclosure_policy_recorded"]
    assert (recorded[-1].proposed_by, recorded[-1].approved_by) == ("u-co1", "u-co2")  # type: ignore[attr-defined]


async def test_only_the_peer_holding_the_case_or_a_clinician_it_was_referred_to_may_raise_a_concern(
    h: Harness,
) -> None:
    case_id = await h.open_case()
    concern = {"case_id": case_id, "category": "imminent_self_harm", "intent_and_plan": True}
    async with h.client() as c:
        r = await c.post(f"{BASE}/escalations", json=concern, headers=h.token("clinician", "u-cl"))
        assert r.status_code == 403 and "referred" in r.json()["detail"]
        r = await c.post(f"{BASE}/escalations", json=concern, headers=h.token("peer", "u-peer"))
        assert r.status_code == 403 and "holding the case" in r.json()["detail"]
        r = await c.post(
            f"{BASE}/escalations", json={**concern, "case_id": "c-nope"}, headers=h.token("peer", "u-peer")
        )
        assert r.status_code == 403 and "no such case" in r.json()["detail"]
        await h.hold(case_id, "u-peer")
        r = await c.post(f"{BASE}/escalations", json=concern, headers=h.token("peer", "u-other-peer"))
        assert r.status_code == 403
        r = await c.post(f"{BASE}/escalations", json=concern, headers=h.token("peer", "u-peer"))
        assert r.status_code == 201, r.text
    [trig] = await h.events("escalation", r.json()["escalation_id"])
    assert isinstance(trig, EscalationTriggered) and trig.raised_by == "u-peer"


async def test_a_clinician_who_raises_a_concern_cannot_acknowledge_it_and_reveal_alone(
    h: Harness, vault: VaultDouble
) -> None:
    case_id = await h.open_case()
    await h.hold(case_id, "u-peer")
    referral = ContactLogged(
        peer_ref="u-peer",
        week="2026-W02",
        mode="phone",
        categories=("health",),
        duration="15_30m",
        referral="clinician",
    )
    await h.append(AGENCY, case_id, referral)
    async with h.client() as c:
        r = await c.post(
            f"{BASE}/escalations",
            json={"case_id": case_id, "category": "imminent_self_harm", "intent_and_plan": True},
            headers=h.token("clinician", "u-cl"),
        )
        assert r.status_code == 201, r.text
        x = r.json()["escalation_id"]
        own = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("clinician", "u-cl"))
        assert own.status_code == 409 and "raised" in own.json()["detail"]
        reveal = await c.post(
            f"{BASE}/escalations/{x}/reveal",
            json={"reason": "welfare_check"},
            headers=h.token("clinician", "u-cl"),
        )
        assert reveal.status_code == 403
        other = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("clinician", "u-cl2"))
        assert other.status_code == 200
    assert vault.requests == []


async def test_a_clinician_takes_over_a_page_a_coordinator_acknowledged_first(
    h: Harness, vault: VaultDouble
) -> None:
    case_id = await h.open_case()
    await h.hold(case_id, "u-peer")
    async with h.client() as c:
        r = await c.post(
            f"{BASE}/escalations",
            json={"case_id": case_id, "category": "threat_to_identifiable_person"},
            headers=h.token("peer", "u-peer"),
        )
        x = r.json()["escalation_id"]
        early = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("coordinator", "u-co"))
        assert early.status_code == 409 and "not been paged" in early.json()["detail"]
        await h.runner.catch_up()
        h.clock.advance(seconds=600)
        assert await h.app.timers.tick() == 1  # tier 2 (coordinator) paged
        first = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("coordinator", "u-co"))
        assert first.status_code == 200, first.text
        again = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("coordinator", "u-co2"))
        assert again.status_code == 409
        taken = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("clinician", "u-cl"))
        assert taken.status_code == 200, taken.text
        second = await c.post(f"{BASE}/escalations/{x}/acknowledge", headers=h.token("clinician", "u-cl2"))
        assert second.status_code == 409
        reveal = await c.post(
            f"{BASE}/escalations/{x}/reveal",
            json={"reason": "welfare_check"},
            headers=h.token("clinician", "u-cl"),
        )
    assert reveal.status_code == 200, reveal.text
    assert [r.requested_by for r in vault.requests] == ["u-cl"]


async def test_a_message_of_an_unknown_type_goes_to_the_dead_letters_not_round_and_round(h: Harness) -> None:
    js = h.nc.jetstream()
    odd = {
        "specversion": "1.0",
        "id": "e-odd",
        "source": "test",
        "type": "peerline.contact_logged.v9",
        "subject": "c-odd",
        "time": datetime.now(UTC).isoformat(),
        "agency": AGENCY,
        "data": {},
    }
    await js.publish(f"ev.{AGENCY}.case.c-odd.contact_logged", json.dumps(odd).encode(), stream=STREAM)
    dead = await js.subscribe("dlq.escalation-riskflags", stream=DLQ_STREAM, ordered_consumer=True)
    msg = await dead.next_msg(timeout=10)
    assert msg.headers is not None and msg.headers["Peerline-Original-Subject"].endswith(
        "c-odd.contact_logged"
    )
    assert "contact_logged.v9" in msg.headers["Peerline-Reason"]
