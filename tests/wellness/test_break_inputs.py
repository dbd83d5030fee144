"""A peer's break `until` is a time with its offset (kept in UTC): a naive or impossible time is a 422
naming the field, and nothing is appended that matching could not fold."""

from __future__ import annotations

import httpx
import pytest

from shared.auth import mint
from shared.contracts.matching import PeerEnrolled
from tests.wellness.conftest import Rig

pytestmark = pytest.mark.integration
A = "riverton-fire"


async def test_a_break_until_needs_an_offset(rig: Rig) -> None:
    await rig.publish(PeerEnrolled(discipline="fire"), A, "p-1")
    await rig.settle()
    headers = {"Authorization": f"Bearer {mint(rig.private_key, role='peer', agency=A, sub='p-1')}"}
    transport = httpx.ASGITransport(app=rig.app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://wellness") as c:
        url = f"/v1/agencies/{A}/peers/p-1/break"
        for until in ("2026-02-01T08:00", "2026-13-45T00:00+00:00", "9999-12-31T23:00-05:00"):
            r = await c.post(url, json={"until": until}, headers=headers)
            assert r.status_code == 422, (until, r.status_code, r.text)
            assert r.json()["detail"][0]["loc"] == ["body", "until"]
        history = await rig.store.load(A, "peer", "p-1")
        assert [s.envelope.event_name for s in history.events] == ["peer_enrolled"]
        r = await c.post(url, json={"until": "2026-02-01T08:00:00-05:00"}, headers=headers)
        assert r.status_code == 202, r.text
    history = await rig.store.load(A, "peer", "p-1")
    assert history.events[-1].envelope.data["until"] == "2026-02-01T13:00:00+00:00"
