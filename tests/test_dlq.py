"""Dead letters keep the original and the reason; those holding raw outside data expire."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.dlq import dead_letter
from shared.envelope import new_id
from shared.topology import DLQ_STREAM

pytestmark = pytest.mark.integration


async def test_a_dead_letter_with_a_ttl_expires_and_one_without_stays(js: JetStreamContext) -> None:
    consumer = new_id("t")
    for seq, ttl in ((1, 1), (2, None)):
        await dead_letter(
            js,
            consumer,
            subject="cad.x.incident",
            seq=seq,
            data=b"{raw}",
            headers={},
            reason="bad",
            ttl_s=ttl,
        )
    first = await js.get_msg(DLQ_STREAM, seq=1, subject=f"dlq.{consumer}", next=True)
    assert first.data == b"{raw}" and (first.headers or {})["Peerline-Reason"] == "bad"
    await asyncio.sleep(2.5)
    left = await js.get_msg(DLQ_STREAM, seq=1, subject=f"dlq.{consumer}", next=True)
    assert (left.headers or {})["Peerline-Original-Seq"] == "2"  # the one with a TTL is gone
    with pytest.raises(NotFoundError):
        await js.get_msg(DLQ_STREAM, seq=(left.seq or 0) + 1, subject=f"dlq.{consumer}", next=True)


async def test_a_reason_naming_any_characters_is_one_printable_ascii_header(js: JetStreamContext) -> None:
    """A reason names the refused input's fields, whatever their characters: it stays one header line that
    every client reads back as text, and the other headers are intact."""
    consumer = new_id("t")
    reason = "invalid: caf\u00e9\r\nPeerline-Consumer: forged\u2028x: \x00"
    await dead_letter(js, consumer, subject="ev.x", seq=1, data=b"{}", headers={}, reason=reason)
    letter = await js.get_msg(DLQ_STREAM, seq=1, subject=f"dlq.{consumer}", next=True)
    headers = letter.headers or {}
    assert headers["Peerline-Consumer"] == consumer
    assert isinstance(headers["Peerline-Reason"], str)
    assert headers["Peerline-Reason"] == "invalid: caf\\xe9\\r\\nPeerline-Consumer: forged\\u2028x: \\x00"


@pytest.mark.unit
def test_a_reason_names_where_a_value_error_arose_without_quoting_the_value() -> None:
    from datetime import datetime

    from shared.items import describe

    try:
        datetime.fromisoformat("Jane Doe 555-0100")
    except ValueError as exc:
        reason = describe(exc)
    assert reason.startswith("ValueError in ") and "Jane" not in reason and "555" not in reason
