"""The reactor: a request it cannot read is dead-lettered with a reason free of personal data, and the
requests after it are still matched."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.contracts.intake import SupportRequested
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore
from shared.seed import seed
from shared.topology import DLQ_STREAM

pytestmark = pytest.mark.integration


async def test_unreadable_request_is_dead_lettered_and_matching_carries_on(log: Any, launch: Any) -> None:
    js = log.nc.jetstream()
    await seed(js)
    await launch("a")
    bad = {
        "specversion": "1.0",
        "id": "e-bad",
        "source": "test",
        "type": "peerline.support_requested.v1",
        "subject": "c-bad",
        "time": datetime.now(UTC).isoformat(),
        "agency": "riverton-fire",
        "data": {"activation": "self", "member_ref": "m-secret-value", "token_hash": 7},
    }
    await js.publish("ev.riverton-fire.case.c-bad.support_requested", json.dumps(bad).encode(), stream=STREAM)
    good = SupportRequested(activation="self", member_ref="m-1", token_hash="0" * 64)
    await EventStore(js).append(
        [Envelope.wrap(good, agency="riverton-fire", subject="c-good", source="t")], 0
    )

    dead = await js.subscribe("dlq.matching-assigner", stream=DLQ_STREAM, ordered_consumer=True)
    msg = await dead.next_msg(timeout=10)
    assert msg.headers is not None
    reason = msg.headers["Peerline-Reason"]
    assert "token_hash" in reason and "m-secret-value" not in reason
    assert msg.headers["Peerline-Original-Subject"].endswith("c-bad.support_requested")
    for _ in range(100):
        cases = await log.cases()
        if any(e.event_name == "peer_assigned" for _, e in cases.get("c-good", [])):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the good request was not matched")
    assert [e.event_name for _, e in cases["c-bad"]] == ["support_requested"]
