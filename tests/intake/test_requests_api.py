"""Requests through HTTP on real JetStream: every activation type, anonymity, tokens, referrals, 422s."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake.vault import referrals
from shared.contracts.intake import MemberRegistered, SupportRequested

from .conftest import World

pytestmark = pytest.mark.integration
A = "riverton-fire"


async def test_an_anonymous_self_referral_is_followed_and_cancelled_with_its_token(world: World) -> None:
    r = await world.client.post(
        "/v1/requests",
        json={"agency": A, "activation": "self", "preferences": {"agency_scope": "other", "language": "es"}},
        headers=world.auth("member", A),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["anonymous"] is True and body["case_token"]
    assert {"anonymity", "confidentiality", "privilege", "limits"} <= set(body["advisement"])
    await world.cases.caught_up()
    status = await world.client.get(
        f"/v1/requests/{body['case_id']}", headers={"X-Case-Token": body["case_token"]}
    )
    assert status.status_code == 200 and status.json()["status"] == "requested"
    wrong = await world.client.get(f"/v1/requests/{body['case_id']}", headers={"X-Case-Token": "guess"})
    assert wrong.status_code == 404
    events = await world.events()
    assert [e.event_name for e in events] == ["support_requested"]  # no member_registered: anonymous
    opened = events[0].payload()
    assert isinstance(opened, SupportRequested) and opened.preferences.language == "es"
    cancel = await world.client.post(
        f"/v1/requests/{body['case_id']}/cancel", headers={"X-Case-Token": body["case_token"]}
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"


@pytest.mark.parametrize("activation", ["supervisor", "peer"])
async def test_a_referrer_is_recorded_in_the_vault_only_and_gets_no_way_back_to_the_case(
    world: World, activation: str
) -> None:
    role = "member" if activation == "supervisor" else "peer"
    r = await world.client.post(
        "/v1/requests",
        json={
            "agency": A,
            "activation": activation,
            "identity": {"name": "Tomasz Wielgus", "phone": "+1 555 123 9876"},
            "contact_preference": "phone",
            "supervisor_refs": ["m-the-captain"] if activation == "supervisor" else [],
        },
        headers=world.auth(role, A, sub="u-referrer-7"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["case_token"] is None and body["anonymous"] is False
    names = [e.event_name for e in await world.events()]
    assert names == ["member_registered", "support_requested"]
    [opened] = [e.payload() for e in await world.events("ev.*.case.>")]
    assert isinstance(opened, SupportRequested) and opened.referred
    assert "u-referrer-7" not in str(await world.events())  # who referred is not in the log
    with world.intake.vault.engine.connect() as conn:
        row = conn.execute(select(referrals)).one()
    assert (row.case_id, row.referred_by, row.role) == (body["case_id"], "u-referrer-7", role)
    # the referrer, as a member, cannot list the agency's cases either
    listing = await world.client.get(f"/v1/agencies/{A}/cases", headers=world.auth("member", A))
    assert listing.status_code == 403


async def test_post_incident_request_carries_the_incident_and_a_sealed_identity(world: World) -> None:
    r = await world.client.post(
        "/v1/requests",
        json={
            "agency": A,
            "activation": "post_incident",
            "incident_ref": "i-0123abcd",
            "identity": {"email": "k.osei@example.org"},
            "discipline": "fire",
            "unit": "station-4",
        },
        headers=world.auth("member", A),
    )
    assert r.status_code == 201, r.text
    member, case = (e.payload() for e in await world.events())
    assert isinstance(member, MemberRegistered) and set(member.sealed) == {"email"}
    assert isinstance(case, SupportRequested) and case.incident_ref == "i-0123abcd"
    assert case.unit == "station-4" and case.activation == "post_incident"


async def test_bad_input_names_the_field_without_echoing_it(world: World) -> None:
    r = await world.client.post(
        "/v1/requests",
        json={"agency": A, "activation": "self", "identity": {"email": "not-an-address-of-Ivo"}},
        headers=world.auth("member", A),
    )
    assert r.status_code == 422
    assert ["body", "identity", "email"] in [d["loc"] for d in r.json()["detail"]]
    assert "Ivo" not in r.text
    r = await world.client.post(
        "/v1/requests", json={"agency": A, "activation": "sideways"}, headers=world.auth("member", A)
    )
    assert r.status_code == 422 and ["body", "activation"] in [d["loc"] for d in r.json()["detail"]]
    r = await world.client.post(
        "/v1/requests",
        json={"agency": A, "activation": "supervisor", "identity": {"name": "Only A Name"}},
        headers=world.auth("member", A),
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("identity")
    assert await world.events() == []  # nothing half-written
