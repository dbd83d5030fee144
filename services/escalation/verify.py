"""`python -m services.escalation audit verify`: recompute the audit trail from the log and compare."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import Engine

from services.escalation import audit
from services.escalation.projection import EscalationProjection, chain_table
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
