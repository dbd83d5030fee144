"""A page notify could deliver to nobody (`page_missed`) pages the next tier at once; a repeated miss
and the tier's deadline firing later page it no second time."""

from __future__ import annotations

import asyncio

import pytest

from shared.contracts.escalation import EscalationTierAdvanced
from shared.contracts.notify import PageMissed
from shared.envelope import STREAM
from tests.escalation.conftest import AGENCY, Harness

pytestmark = pytest.mark.integration


async def settled(h: Harness, durable: str) -> None:
    """Until the reactor has handled (acknowledged) everything on its consumer."""
    js = h.nc.jetstream()
    while True:
        info = await js.consumer_info(STREAM, durable)
        if not info.num_pending and not info.num_ack_pending:
            return
        await asyncio.sleep(0.05)


async def test_a_missed_page_pages_the_next_tier_before_the_deadline_and_only_once(h: Harness) -> None:
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
    assert (await h.page()).tier == 1
    missed = PageMissed(escalation_id=x, tier=1, role="clinician", reason="nobody_on_call")
    await h.append(AGENCY, "n-1", missed)
    second = await h.page()  # the fake clock has not moved: no deadline passed
    assert (second.escalation_id, second.tier, second.role) == (x, 2, "coordinator")

    await h.append(AGENCY, "n-2", missed)  # notify saying it again changes nothing
    await settled(h, "escalation-missedpages")
    await h.app.commands.advance(AGENCY, x, 1)  # what tier 1's deadline timer does when it fires late
    await h.runner.catch_up()
    advanced = [e for e in await h.events("escalation", x) if isinstance(e, EscalationTierAdvanced)]
    assert [e.tier for e in advanced] == [2]
