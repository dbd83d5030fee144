"""The vault's reveal over NATS request/reply, checked against escalation events in the log."""

from __future__ import annotations

import pytest

from shared.contracts.base import Event
from shared.contracts.escalation import EscalationAcknowledged, EscalationResolved, EscalationTriggered
from shared.contracts.intake import REVEAL_SUBJECT, IdentityDisclosed, RevealReply, RevealRequest
from shared.envelope import Envelope, new_id
from shared.eventstore import EventStore

from .conftest import World

pytestmark = pytest.mark.integration
A = "county-ems"
WHO = {"name": "Henrietta Szabo", "phone": "+1 555 300 1188", "employee_id": "CEMS-7781"}


async def open_case(world: World, identity: dict[str, str] | None = WHO) -> str:
    body = {"agency": A, "activation": "self", **({"identity": identity} if identity else {})}
    r = await world.client.post("/v1/requests", json=body, headers=world.auth("member", A))
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def escalate(world: World, case_id: str, *events: Event) -> str:
    escalation_id = new_id("x")
    envs = [Envelope.wrap(e, agency=A, subject=escalation_id, source="test/escalation") for e in events]
    await EventStore(world.js).append(envs, expected=0)
    return escalation_id


def triggered(case_id: str, disclosable: bool = True) -> EscalationTriggered:
    return EscalationTriggered(
        case_id=case_id,
        category="imminent_self_harm",
        raised_by_role="peer",
        policy_version=3,
        disclosable=disclosable,
    )


async def ask(world: World, escalation_id: str, case_id: str, by: str = "u-clin") -> RevealReply:
    req = RevealRequest(
        agency=A, escalation_id=escalation_id, case_id=case_id, requested_by=by, disclosed_to=by
    )
    msg = await world.nc.request(REVEAL_SUBJECT, req.model_dump_json().encode(), timeout=5)
    return RevealReply.model_validate_json(msg.data)


async def test_reveal_under_an_acknowledged_escalation_is_recorded_then_answered(world: World) -> None:
    case_id = await open_case(world)
    esc = await escalate(world, case_id, triggered(case_id), EscalationAcknowledged(tier=0, by="u-clin"))
    reply = await ask(world, esc, case_id)
    assert reply.ok and reply.fields == WHO
    [disclosed] = [e.payload() for e in await world.events("ev.*.member.*.identity_disclosed")]
    assert isinstance(disclosed, IdentityDisclosed)
    assert (disclosed.escalation_id, disclosed.case_id, disclosed.basis) == (
        esc,
        case_id,
        "imminent_self_harm",
    )
    assert disclosed.requested_by == "u-clin" and disclosed.fields == ("employee_id", "name", "phone")
    again = await ask(world, esc, case_id)
    assert again.ok
    assert len(await world.events("ev.*.member.*.identity_disclosed")) == 2  # every reveal is on record


async def test_reveal_is_refused_without_a_valid_basis(world: World) -> None:
    case_id = await open_case(world)
    other_case = await open_case(world)
    unacked = await escalate(world, case_id, triggered(case_id))
    assert (await ask(world, unacked, case_id)).refused == "only whoever acknowledged the escalation may ask"
    acked = await escalate(world, case_id, triggered(case_id), EscalationAcknowledged(tier=0, by="u-clin"))
    assert "acknowledged" in str((await ask(world, acked, case_id, by="u-intruder")).refused)
    assert "another case" in str((await ask(world, acked, other_case)).refused)
    closed = await escalate(
        world,
        case_id,
        triggered(case_id),
        EscalationAcknowledged(tier=0, by="u-clin"),
        EscalationResolved(outcome="member_safe"),
    )
    assert "resolved" in str((await ask(world, closed, case_id)).refused)
    barred = await escalate(
        world, case_id, triggered(case_id, disclosable=False), EscalationAcknowledged(tier=0, by="u-clin")
    )
    assert "policy" in str((await ask(world, barred, case_id)).refused)
    assert "no such escalation" in str((await ask(world, "x-nothing", case_id)).refused)
    anonymous = await open_case(world, identity=None)
    esc = await escalate(world, anonymous, triggered(anonymous), EscalationAcknowledged(tier=0, by="u-clin"))
    assert "no identity" in str((await ask(world, esc, anonymous)).refused)
    assert await world.events("ev.*.member.*.identity_disclosed") == []
    bad = await world.nc.request(REVEAL_SUBJECT, b'{"agency": "county-ems"}', timeout=5)
    refused = RevealReply.model_validate_json(bad.data)
    assert not refused.ok and "escalation_id" in str(refused.refused)
