"""A peer's own inputs are validated with real types before anything is appended: a break `until`
without a zone or outside the calendar, a `tz` that is no zone name, a language that is no BCP 47 tag.
Nothing is appended that matching cannot fold, so the peer stays usable (deselection still works)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.auth import generate_dev_keys
from shared.envelope import Envelope
from tests.matching.test_api import A, Client, new_peer

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(launch: Any, tmp_path: Path) -> Client:
    app = await launch("a")
    private, _ = generate_dev_keys(tmp_path / "keys")
    return Client(app, private.read_bytes())


async def peer_events(log: Any, ref: str) -> list[Envelope]:
    return [env for _, env in (await log.cases(f"ev.{A}.peer.{ref}.>")).get(ref, [])]


async def test_bad_times_and_zones_are_refused_before_anything_is_appended(client: Client, log: Any) -> None:
    ref = await new_peer(client, discipline="fire")
    base = f"/v1/agencies/{A}/peers/{ref}"
    before = len(await peer_events(log, ref))
    bad_breaks = [
        {"available": False, "reason": "break", "until": "2026-06-01T08:00"},  # no time zone
        {"available": False, "reason": "break", "until": "2026-13-45T00:00"},  # no such day
        {"available": False, "reason": "break", "until": "9999-12-31T23:00-05:00"},  # past the calendar
    ]
    for body in bad_breaks:
        r = await client.call("PUT", f"{base}/availability", "peer", A, ref, json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "until"] and body["until"] not in r.text
    week = [{"day": 0, "start": "08:00", "end": "18:00"}]
    for tz in ("/etc/passwd", "Mars/Olympus", "../../etc/passwd", ""):
        r = await client.call("PUT", f"{base}/windows", "peer", A, ref, json={"windows": week, "tz": tz})
        assert r.status_code == 422, (tz, r.status_code)
        assert r.json()["detail"][0]["loc"] == ["body", "tz"]
    assert len(await peer_events(log, ref)) == before
    good = {"available": False, "reason": "break", "until": "2026-06-01T08:00:00-05:00"}
    r = await client.call("PUT", f"{base}/availability", "peer", A, ref, json=good)
    assert r.status_code == 200, r.text
    r = await client.call(
        "PUT", f"{base}/windows", "peer", A, ref, json={"windows": week, "tz": "Europe/Oslo"}
    )
    assert r.status_code == 200, r.text
    events = await peer_events(log, ref)
    stored = [e.data for e in events if e.type.startswith("peerline.peer_availability_changed")]
    assert stored[-1]["until"] == "2026-06-01T13:00:00+00:00"  # kept in UTC
    r = await client.call("POST", f"{base}/deselection", json={"reason": "own_request"})
    assert r.status_code == 200 and r.json()["stage"] == "deselected"


async def test_languages_are_bcp47_tags_and_ids_follow_the_id_pattern(client: Client) -> None:
    base = f"/v1/agencies/{A}/peers"
    for body, field in [
        ({"discipline": "fire", "languages": ["klingon!"]}, "languages"),
        ({"discipline": "fire", "languages": ["xx-bogus"]}, "languages"),
        ({"discipline": "fire", "member_ref": "M" * 65}, "member_ref"),
        ({"discipline": "fire", "supervisor_refs": ["a b"]}, "supervisor_refs"),
        ({"discipline": "fire", "languages": ["en"] * 40}, "languages"),
    ]:
        r = await client.call("POST", base, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"][:2] == ["body", field]
    r = await client.call("POST", base, json={"discipline": "fire", "languages": ["es-419", "zh-Hant"]})
    assert r.status_code == 201 and r.json()["languages"] == ["es-419", "zh-Hant"], r.text


async def test_a_typed_unit_is_recorded_as_other(client: Client, log: Any) -> None:
    body = {"discipline": "fire", "unit": "Capt Miller's crew (B shift)"}
    r = await client.call("POST", f"/v1/agencies/{A}/peers", json=body)
    assert r.status_code == 201, r.text
    ref = r.json()["peer_ref"]
    (applied,) = await peer_events(log, ref)
    assert applied.data["unit"] == "other"
