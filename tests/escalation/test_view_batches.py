"""Escalation's view writes audit records and tier timers once per batch: a batch holding escalations'
whole lives leaves the same view as one event at a time, and the audit chain links across batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, select

from services.escalation.projection import EscalationProjection, audit
from services.escalation.tables import chain_table, timers
from shared.envelope import Envelope
from shared.items import Item
from shared.projection import apply_batch, digest, ensure_schema
from tests.escalation.test_statements import T0, history

pytestmark = pytest.mark.unit


def items(count: int) -> list[Item]:
    out = []
    for seq, (ev, subject) in enumerate(history(count), start=1):
        env = Envelope.wrap(ev, agency="cfd", subject=subject, source="t", time=T0 + timedelta(minutes=seq))
        out.append(Item(seq, env.nats_subject, env.to_bytes(), None, env=env, event=ev))
    return out


def view() -> tuple[Engine, EscalationProjection]:
    engine, projection = create_engine("sqlite://"), EscalationProjection()
    ensure_schema(engine, projection)
    return engine, projection


def test_batches_leave_the_same_view_as_one_event_at_a_time_and_the_chain_links_across_them() -> None:
    life = items(3)  # per escalation: triggered, advanced, refused, disclosed, acknowledged, resolved
    one_by_one, projection = view()
    for item in life:
        apply_batch(one_by_one, projection, [item])
    batched, _ = view()
    apply_batch(batched, projection, life[:9])
    apply_batch(batched, projection, life[9:])
    assert digest(batched, projection) == digest(one_by_one, projection)
    with batched.connect() as conn:
        verdict = audit.Verdict()
        audit.check_links(conn, chain_table, verdict)
        assert verdict.ok and verdict.records == len(life)
        assert conn.execute(select(timers)).all() == []  # every escalation answered: no deadline left


def test_a_deadline_scheduled_and_moved_in_one_batch_is_the_moved_one() -> None:
    engine, projection = view()
    apply_batch(engine, projection, items(1)[:3])  # policy, triggered, advanced to tier 2
    with engine.connect() as conn:
        rows = conn.execute(select(timers.c.timer_id, timers.c.due_at)).all()
    assert [r.timer_id for r in rows] == ["x-0:tier:2"]
    assert rows[0].due_at.replace(tzinfo=T0.tzinfo) == T0 + timedelta(minutes=3, seconds=900)
