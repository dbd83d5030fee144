"""After fuzzing the bus: what the consumers made of it, read from the bus itself.

Every durable a running service reads drains (nothing pending, nothing awaiting an ack); every accepted
event is still in the log under its sequence with its message id and bytes; every event a consumer
could not read is in PEERLINE_DLQ from that consumer, with a reason; every dead letter has a reason."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from shared.buspolicy import durables
from shared.consumers.intake import CAD_DURABLE, CAD_INBOX
from shared.envelope import STREAM
from shared.items import parse_raw
from shared.topology import DLQ_STREAM, consumer
from tests.fuzz.publish import Sent
from tests.support.bus import messages

RUNNING = (*((STREAM, d) for ds in durables().values() for d in ds), (CAD_INBOX, CAD_DURABLE))


@dataclass
class Findings:
    stalled: dict[str, tuple[int, int]] = field(default_factory=dict)  # durable → (pending, ack pending)
    missing: list[str] = field(default_factory=list)  # accepted events not in the log as sent
    undead: list[str] = field(default_factory=list)  # unreadable events a consumer did not dead-letter
    no_reason: list[str] = field(default_factory=list)  # dead letters without a reason
    dead: Counter[str] = field(default_factory=Counter)  # durable → fuzzed inputs it dead-lettered
    applied: Counter[str] = field(default_factory=Counter)  # durable → fuzzed inputs it took
    unreadable: int = 0  # accepted events no consumer can read
    failed: Counter[str] = field(default_factory=Counter)  # why readable events were dead-lettered


async def drained(js: JetStreamContext, within: float) -> dict[str, tuple[int, int]]:
    """Waits until every running durable has nothing pending; returns those that still do."""
    deadline = time.monotonic() + within
    while True:
        left = {}
        for stream, durable in RUNNING:
            info = await js.consumer_info(stream, durable)
            if info.num_pending or info.num_ack_pending:
                left[durable] = (info.num_pending, info.num_ack_pending)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def audit(js: JetStreamContext, sent: list[Sent], within: float) -> Findings:
    found = Findings(stalled=await drained(js, within))
    letters: dict[str, dict[int, str]] = {}
    for letter in await messages(js, DLQ_STREAM, "dlq.>"):
        headers = letter.headers or {}
        if not str(headers.get("Peerline-Reason", "")):
            found.no_reason.append(f"{letter.subject} #{letter.seq}")
        if "Peerline-Original-Seq" in headers:
            durable = headers.get("Peerline-Consumer", "")
            reason = str(headers.get("Peerline-Reason", ""))
            letters.setdefault(durable, {})[int(headers["Peerline-Original-Seq"])] = reason
    for s in sent:
        if s.seq is None:
            continue
        if s.subject.startswith("cad."):
            dead = s.seq in letters.get(CAD_DURABLE, {})
            found.dead[CAD_DURABLE] += dead
            found.applied[CAD_DURABLE] += not dead
            continue
        await _check_event(js, s, s.seq, letters, found)
    return found


async def _check_event(
    js: JetStreamContext, s: Sent, seq: int, letters: dict[str, dict[int, str]], found: Findings
) -> None:
    try:
        raw = await js.get_msg(STREAM, seq=seq, direct=True)
    except NotFoundError:
        raw = RawStreamMsg()
    msg_id = (raw.headers or {}).get("Nats-Msg-Id")
    if (
        raw.subject != s.subject
        or msg_id != s.msg_id
        or hashlib.sha256(raw.data or b"").hexdigest() != s.digest
    ):
        found.missing.append(f"#{seq} {s.kind} {s.subject}")
        return
    unreadable = parse_raw(raw).problem is not None
    found.unreadable += unreadable
    for _, durable in RUNNING[:-1]:
        if not consumer(durable).wants(s.subject):
            continue
        reason = letters.get(durable, {}).get(seq)
        found.dead[durable] += reason is not None
        found.applied[durable] += reason is None
        if unreadable and reason is None:
            found.undead.append(f"{durable}: #{seq} {s.kind} {s.subject}")
        elif not unreadable and reason is not None:
            found.failed[f"{durable}: {reason[:160]}"] += 1
