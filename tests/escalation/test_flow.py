"""Escalation in-process against a real nats-server, time from a fake clock: a risk flag pages tier 1,
missed deadlines page the next tiers exactly once, acknowledgement stops the clock, reveals happen only
where policy allows and are audited, and the audit trail catches tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.escalation.projection import EscalationProjection
from services.escalation.projection.verify import verify
from services.escalation.reactions import escalation_id_for
from services.escalation.tables import chain_table, timers
from shared.contracts.escalation import (
    EscalationTierAdvanced,
    EscalationTriggered,
    IdentityRevealRefused,
)
from shared.contracts.intake import IdentityDisclosed, RevealReply, RevealRequest
from shared.contracts.tracking import ContactLogged
from shared.projection import digest
from shared.replay import rebuild
from shared.timers import due
from shared.topology import consumer
from tests.escalation.conftest import AGENCY, Harness, VaultDouble

pytestmark = pytest.mark.integration


def contact(risk: bool) -> ContactLogged:
    return ContactLogged(
        peer_ref="p-1",
        week="2026-W02",
        mode="phone",
        categories=("health",),
        duration="15_30m",
        risk_flag=risk,
    )


async def test_a_risk_flag_pages_the_clinician_and_missed_deadlines_page_each_next_tier_once(
    h: Harness,
) -> None:
    case_id = await h.open_case()
    await h.append(AGENCY, case_id, contact(risk=False))
    flagged = await h.append(AGENCY, case_id, contact(risk=True))
    x = escalation_id_for(flagged)

    first = await h.page()
    assert (first.escalation_id, first.case_id, first.tier, first.role) == (x, case_id, 1, "clinician")
    assert first.category == "imminent_self_harm" and first.disclosable is True  # broad-duty: any threat
    assert h.pages.empty()  # the unflagged contact paged nobody
    [trig] = await h.events("escalation", x)
    assert isinstance(trig, EscalationTriggered) and trig.raised_by_role == "peer"

    await h.runner.catch_up()
    assert await h.app.timers.tick() == 0  # not yet due
    h.clock.advance(seconds=599)
    assert await h.app.timers.tick() == 0
    h.clock.advance(seconds=1)
    assert await h.app.timers.tick() == 1
    second = await h.page()
    assert (second.tier, second.role) == (2, "coordinator")
    assert await h.app.timers.tick() == 0  # fired and appended: waits for the view, never fires again
    await h.runner.catch_up()
    h.clock.advance(seconds=600)
    assert await h.app.timers.tick() == 1
    assert (await h.page()).role == "command"
    await h.runner.catch_up()
    h.clock.advance(hours=2)
    await h.app.timers.tick()  # the last tier stays paged
    await h.runner.catch_up()
    advanced = [e for e in await h.events("escalation", x) if isinstance(e, EscalationTierAdvanced)]
    assert [e.tier for e in advanced] == [2, 3]

    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/acknowledge", headers=h.token("leader", "u-cmd")
        )
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    await h.runner.catch_up()
    with h.app.engine.connect() as conn:
        assert conn.execute(select(timers).where(timers.c.aggregate_id == x)).first() is None


async def test_a_deadline_fired_twice_or_by_two_instances_advances_the_tier_once(h: Harness) -> None:
    case_id = await h.open_case()
    await h.hold(case_id, "u-peer")
    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations",
            json={"case_id": case_id, "category": "threat_to_identifiable_person"},
            headers=h.token("peer", "u-peer"),
        )
    assert r.status_code == 201, r.text
    x = r.json()["escalation_id"]
    await h.runner.catch_up()
    h.clock.advance(minutes=11)
    [timer] = due(h.app.engine, timers, h.clock.now(), h.app.timers.retry_after)
    results = [await h.app.commands.fire(timer), await h.app.commands.fire(timer)]
    assert results == [True, True]  # both see tier 2 paged; only one appended
    advanced = [e for e in await h.events("escalation", x) if isinstance(e, EscalationTierAdvanced)]
    assert len(advanced) == 1


async def test_raise_acknowledge_resolve_over_http_and_the_open_list_holds_no_identity(h: Harness) -> None:
    case_id = await h.open_case()
    await h.hold(case_id, "u-peer")
    await h.append(AGENCY, case_id, contact(risk=False).model_copy(update={"referral": "clinician"}))
    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations",
            json={"case_id": case_id, "category": "admission_of_crime"},
            headers=h.token("clinician", "u-cl"),
        )
        assert r.status_code == 201, r.text
        x = r.json()["escalation_id"]
        assert r.json()["disclosable"] is True and r.json()["policy_version"] == 1
        await h.runner.catch_up()
        listed = (
            await c.get(f"/v1/agencies/{AGENCY}/escalations", headers=h.token("coordinator", "u-co"))
        ).json()
        assert [e["escalation_id"] for e in listed] == [x]
        assert set(listed[0]) == {
            "escalation_id", "case_id", "category", "status", "tier", "tier_role",
            "disclosable", "policy_version", "triggered_at", "deadline_at",
        }  # fmt: skip
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/resolve",
            json={"outcome": "member_safe"},
            headers=h.token("clinician", "u-cl"),
        )
        assert r.status_code == 409 and "acknowledge" in r.json()["detail"]
        ack = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/acknowledge", headers=h.token("clinician", "u-cl2")
        )
        assert ack.status_code == 200
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/resolve",
            json={"outcome": "sent_home"},
            headers=h.token("clinician", "u-cl"),
        )
        assert r.status_code == 422 and "outcome" in r.text
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/resolve",
            json={"outcome": "member_safe"},
            headers=h.token("clinician", "u-cl"),
        )
        assert r.status_code == 200 and r.json()["status"] == "resolved"
        await h.runner.catch_up()
        listed = (
            await c.get(f"/v1/agencies/{AGENCY}/escalations", headers=h.token("clinician", "u-cl"))
        ).json()
        assert listed == []
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations",
            json={"case_id": "C 1", "category": "arson"},
            headers=h.token("peer", "u-p"),
        )
        assert r.status_code == 422 and "case_id" in r.text and "category" in r.text


async def raise_and_ack(h: Harness, agency: str, category: str, clinician: str) -> str:
    case_id = await h.open_case(agency)
    await h.hold(case_id, "u-peer", agency)
    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/{agency}/escalations",
            json={"case_id": case_id, "category": category},
            headers=h.token("peer", "u-peer", agency),
        )
        assert r.status_code == 201, r.text
        x = str(r.json()["escalation_id"])
        ack = await c.post(
            f"/v1/agencies/{agency}/escalations/{x}/acknowledge",
            headers=h.token("clinician", clinician, agency),
        )
        assert ack.status_code == 200, ack.text
    return x


async def test_a_permitted_reveal_goes_through_the_vault_and_is_audited(
    h: Harness, vault: VaultDouble
) -> None:
    x = await raise_and_ack(h, AGENCY, "threat_to_identifiable_person", "u-cl")
    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/reveal",
            json={"reason": "welfare_check"},
            headers=h.token("clinician", "u-cl"),
        )
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["name"] == "Test Member" and r.headers["cache-control"] == "no-store"
    [req] = vault.requests
    assert (req.escalation_id, req.requested_by, req.disclosed_to) == (x, "u-cl", "u-cl")
    await h.runner.catch_up()
    with h.app.engine.connect() as conn:
        types = [
            row.event_type
            for row in conn.execute(select(chain_table.c.event_type).where(chain_table.c.body.contains(x)))
        ]
    assert types == [
        "peerline.escalation_triggered.v1",
        "peerline.escalation_acknowledged.v1",
        "peerline.identity_disclosed.v1",
    ]
    with h.app.engine.connect() as conn:
        body = conn.execute(
            select(chain_table.c.body).where(chain_table.c.event_type == "peerline.identity_disclosed.v1")
        ).scalar_one()
    assert '"basis":"threat_to_identifiable_person"' in body and "Test Member" not in body
    verdict = await verify(h.nc.jetstream(), h.app.engine)
    assert verdict.ok and verdict.records >= 5, verdict.problems  # 3 seeded policies + this escalation


async def test_a_reveal_the_policy_does_not_permit_is_refused_with_the_reason_and_recorded(
    h: Harness, vault: VaultDouble
) -> None:
    x = await raise_and_ack(h, "county-ems", "admission_of_crime", "u-cl")  # narrow-duty: not disclosable
    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/county-ems/escalations/{x}/reveal",
            json={"reason": "welfare_check"},
            headers=h.token("clinician", "u-cl", "county-ems"),
        )
    assert r.status_code == 403
    assert "admission_of_crime does not permit disclosure" in r.json()["detail"]
    assert vault.requests == []  # refused here: the vault was never asked
    events = await h.events("escalation", x, "county-ems")
    assert isinstance(events[-1], IdentityRevealRefused) and events[-1].requested_by == "u-cl"


async def test_only_the_acknowledging_clinician_of_an_unresolved_escalation_may_ask(
    h: Harness, vault: VaultDouble
) -> None:
    x = await raise_and_ack(h, AGENCY, "imminent_self_harm", "u-cl")
    async with h.client() as c:
        url = f"/v1/agencies/{AGENCY}/escalations/{x}/reveal"
        other = await c.post(url, json={"reason": "welfare_check"}, headers=h.token("clinician", "u-other"))
        assert other.status_code == 403 and "who acknowledged" in other.json()["detail"]
        coordinator = await c.post(
            url, json={"reason": "welfare_check"}, headers=h.token("coordinator", "u-cl")
        )
        assert coordinator.status_code == 403
        done = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/resolve",
            json={"outcome": "referred_to_clinician"},
            headers=h.token("clinician", "u-cl"),
        )
        assert done.status_code == 200
        late = await c.post(url, json={"reason": "welfare_check"}, headers=h.token("clinician", "u-cl"))
        assert late.status_code == 403 and "resolved" in late.json()["detail"]
        missing = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/x-nope/reveal",
            json={"reason": "welfare_check"},
            headers=h.token("clinician", "u"),
        )
        assert missing.status_code == 404
    assert vault.requests == []
    refusals = [e for e in await h.events("escalation", x) if isinstance(e, IdentityRevealRefused)]
    assert (
        len(refusals) == 2
    )  # the other clinician, and the late ask (the coordinator is stopped at the door)
    assert not any(isinstance(e, IdentityDisclosed) for e in await h.events("escalation", x))


async def test_the_vault_refusing_is_recorded_too(h: Harness, vault: VaultDouble) -> None:
    x = await raise_and_ack(h, AGENCY, "court_order", "u-cl")

    async def refuse(_: RevealRequest) -> RevealReply:
        return RevealReply(ok=False, refused="sealed")

    vault.decide = refuse  # type: ignore[method-assign]
    async with h.client() as c:
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/reveal",
            json={"reason": "welfare_check"},
            headers=h.token("clinician", "u-cl"),
        )
    assert r.status_code == 403 and "the vault refused: sealed" in r.json()["detail"]


async def test_audit_verify_catches_an_altered_or_missing_record_and_rebuild_matches(h: Harness) -> None:
    x = await raise_and_ack(h, AGENCY, "mandated_reporting", "u-cl")
    await h.runner.catch_up()
    js = h.nc.jetstream()
    assert (await verify(js, h.app.engine)).ok
    live = digest(h.app.engine, EscalationProjection())

    with h.app.engine.begin() as conn:
        row = conn.execute(
            select(chain_table).where(chain_table.c.body.contains("escalation_acknowledged"))
        ).first()
        assert row is not None
        conn.execute(
            chain_table.update()
            .where(chain_table.c.position == row.position)
            .values(body=row.body.replace('"by":"u-cl"', '"by":"u-else"'))
        )
    problems = (await verify(js, h.app.engine)).problems
    assert any(f"seq {row.seq}" in p and "altered" in p for p in problems), problems

    await h.runner.stop()
    await rebuild(js, h.app.engine, EscalationProjection(), consumer("escalation-view"))
    assert (await verify(js, h.app.engine)).ok  # the trail is derived: a rebuild restores it
    assert digest(h.app.engine, EscalationProjection()) == live
    with h.app.engine.begin() as conn:
        conn.execute(chain_table.delete().where(chain_table.c.body.contains(x)))
    problems = (await verify(js, h.app.engine)).problems
    assert sum("missing from the audit trail" in p for p in problems) == 2, problems


async def test_a_new_policy_version_governs_new_escalations_only(h: Harness) -> None:
    async with h.client() as c:
        admin = h.token("regional_admin", "u-admin")
        old = await raise_and_ack(h, AGENCY, "admission_of_crime", "u-cl")
        body = {
            "jurisdiction": "narrow-duty",
            "disclosable": ["threat_to_identifiable_person", "court_order"],
            "chain": [{"role": "clinician", "ack_within_s": 300}],
        }
        r = await c.put(f"/v1/agencies/{AGENCY}/disclosure-policy", json=body, headers=admin)
        assert r.status_code == 202 and r.json()["status"] == "proposed"
        r = await c.post(
            f"/v1/agencies/{AGENCY}/disclosure-policy/approval",
            json={"proposal_id": r.json()["proposal_id"]},
            headers=h.token("coordinator", "u-co"),
        )
        assert r.status_code == 200 and r.json()["policy_version"] == 2
        again = await c.put(f"/v1/agencies/{AGENCY}/disclosure-policy", json=body, headers=admin)
        assert again.json()["status"] == "unchanged"  # unchanged: nothing to approve
        bad = {**body, "chain": [{"role": "command", "ack_within_s": 300}]}
        r = await c.put(f"/v1/agencies/{AGENCY}/disclosure-policy", json=bad, headers=admin)
        assert r.status_code == 409 and r.json()["detail"].startswith("chain:")
        read = await c.get(f"/v1/agencies/{AGENCY}/disclosure-policy", headers=h.token("clinician", "u-cl"))
        assert read.json()["policy_version"] == 2 and read.json()["chain"] == body["chain"]
    new = await raise_and_ack(h, AGENCY, "admission_of_crime", "u-cl")
    [old_trig, *_] = await h.events("escalation", old)
    [new_trig, *_] = await h.events("escalation", new)
    assert isinstance(old_trig, EscalationTriggered) and isinstance(new_trig, EscalationTriggered)
    assert (old_trig.policy_version, old_trig.disclosable) == (1, True)
    assert (new_trig.policy_version, new_trig.disclosable) == (2, False)
