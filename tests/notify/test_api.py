"""Notify's HTTP API refuses bad input with a 4xx naming the field, never echoing the value."""

from __future__ import annotations

import pytest

from tests.notify.conftest import A, Rig

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "email", "email": "not-an-address-7788"}, "email"),
        ({"channel": "sms", "phone": "555-0107788"}, "phone"),
        ({"channel": "webhook", "url": "ftp://x.example/7788", "secret": "0123456789abcdef"}, "url"),
        ({"channel": "webhook", "url": "https://x.example/h", "secret": "short7788"}, "secret"),
        (
            {
                "channel": "push",
                "subscription": {
                    "endpoint": "https://p.example/1",
                    "keys": {"p256dh": "AA7788", "auth": "AA"},
                },
            },
            "p256dh",
        ),
        ({"channel": "carrier-pigeon", "loft": "7788"}, "channel"),
    ],
)
async def test_a_bad_contact_point_is_refused_naming_the_field(rig: Rig, body: dict, field: str) -> None:  # type: ignore[type-arg]
    r = await rig.api.post("/v1/me/contacts", json=body, headers=rig.auth("peer", "p-1"))
    assert r.status_code == 422
    assert field in str([e["loc"] for e in r.json()["detail"]]) or field in r.text
    assert "7788" not in r.text


async def test_preferences_and_schedules_are_checked(rig: Rig) -> None:
    who = rig.auth("peer", "p-1")
    bad_tz = await rig.api.put("/v1/me/preferences", json={"tz": "Mars/Olympus"}, headers=who)
    assert bad_tz.status_code == 422 and "tz" in bad_tz.text and "Olympus" not in bad_tz.text
    bad_hours = await rig.api.put(
        "/v1/me/preferences", json={"quiet_hours": {"start": "25:00", "end": "07:00"}}, headers=who
    )
    assert bad_hours.status_code == 422
    ok = await rig.api.put("/v1/me/preferences", json={"tz": "America/Chicago", "opt_in": True}, headers=who)
    assert ok.status_code == 200
    assert (await rig.api.get("/v1/me/preferences", headers=who)).json()["tz"] == "America/Chicago"

    shift = {"ref": "u-clin", "starts_at": "2026-01-05T10:00:00Z", "ends_at": "2026-01-05T09:00:00Z"}
    path = f"/v1/agencies/{A}/oncall/clinician"
    backwards = await rig.api.put(path, json={"shifts": [shift]}, headers=rig.auth("coordinator", "u-c"))
    assert backwards.status_code == 422 and "ends_at" in backwards.text
    by_peer = await rig.api.put(path, json={"shifts": []}, headers=who)
    assert by_peer.status_code == 403
    elsewhere = await rig.api.put(
        "/v1/agencies/county-ems/oncall/clinician",
        json={"shifts": []},
        headers=rig.auth("coordinator", "u-c"),
    )
    assert elsewhere.status_code == 403
    unknown_role = await rig.api.put(
        f"/v1/agencies/{A}/oncall/janitor", json={"shifts": []}, headers=rig.auth("coordinator", "u-c")
    )
    assert unknown_role.status_code == 422


async def test_nobody_removes_another_persons_contact_point(rig: Rig) -> None:
    cid = await rig.add_contact("peer", "p-1", {"channel": "email", "email": "p1@riverton.example"})
    other = await rig.api.delete(f"/v1/me/contacts/{cid}", headers=rig.auth("peer", "p-2"))
    assert other.status_code == 404
    assert (await rig.api.get("/v1/me/contacts", headers=rig.auth("peer", "p-1"))).json()[0][
        "contact_id"
    ] == cid
    assert (await rig.api.get("/v1/me/contacts")).status_code == 401
