"""`python -m services.escalation audit verify`: recompute the audit trail from the log and compare."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from services.escalation.projection import EscalationProjection, audit
from services.escalation.tables import chain_table
from shared.envelope import STREAM, read_event
from shared.projection import ensure_schema, position
from shared.replay import has_events
from shared.topology import consumer

AUDITED = consumer("escalation-view").filter_subjects


async def recompute(js: JetStreamContext, subjects: tuple[str, ...] = AUDITED) -> dict[int, str]:
    """seq → canonical record of every audited event in the log, read by an ordered consumer."""
    out: dict[int, str] = {}
    if not await has_events(js, subjects):
        return out
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, filter_subjects=list(subjects))
    sub = await js.subscribe(subjects[0], stream=STREAM, ordered_consumer=True, config=config)
    try:
        while True:
            msg = await sub.next_msg(timeout=30)
            seq = msg.metadata.sequence.stream
            try:
                env, _ = read_event(msg.data, msg.subject)
                out[seq] = audit.body(env, seq)
            except (ValueError, LookupError):
                pass  # unreadable events were dead-lettered by the live consumer and never audited
            if not msg.metadata.num_pending:
                return out
    finally:
        await sub.unsubscribe()


def _position(engine: Engine) -> int:
    ensure_schema(engine, EscalationProjection())
    with engine.connect() as conn:
        return position(conn, EscalationProjection.name)


def _check(engine: Engine, log: dict[int, str], upto: int) -> audit.Verdict:
    with engine.connect() as conn:
        latest = position(conn, EscalationProjection.name)
        return audit.verify_chain(conn, chain_table, log, upto, latest)


async def verify(js: JetStreamContext, engine: Engine) -> audit.Verdict:
    """The trail as of the projection's position (read first, so the log read after covers it)."""
    upto = await asyncio.to_thread(_position, engine)
    log = await recompute(js)
    return await asyncio.to_thread(_check, engine, log, upto)


def _links(engine: Engine) -> tuple[audit.Verdict, dict[int, str]]:
    with engine.connect() as conn:
        verdict = audit.Verdict(checked_up_to_seq=position(conn, EscalationProjection.name))
        return verdict, audit.check_links(conn, chain_table, verdict)


async def verify_recent(js: JetStreamContext, engine: Engine, last: int = 100) -> audit.Verdict:
    """What the live service can check on its own credentials: every link of the trail, and its `last`
    records against the log (direct get by sequence). `audit verify` compares the whole log."""
    verdict, stored = await asyncio.to_thread(_links, engine)
    for seq in sorted(stored)[-last:]:
        try:
            msg = await js.get_msg(STREAM, seq, direct=True)
            env, _ = read_event(msg.data or b"", msg.subject or "")
        except NotFoundError:
            verdict.problems.append(f"seq {seq}: in the audit trail but not in the log")
            continue
        if audit.body(env, seq) != stored[seq]:
            verdict.problems.append(f"seq {seq}: the audit record differs from the log (altered)")
    return verdict
