"""Escalation's projection runs statements built once: a long history runs the same few statement
objects, never one built per event (building one costs several times what SQLite spends running it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from services.escalation.projection import EscalationProjection
from shared.contracts.base import Event
from shared.contracts.escalation import (
    DisclosurePolicyRecorded,
    EscalationAcknowledged,
    EscalationResolved,
    EscalationTierAdvanced,
    EscalationTriggered,
    IdentityRevealRefused,
    Tier,
)
from shared.contracts.intake import IdentityDisclosed
from shared.envelope import Envelope
from shared.projection import ensure_schema

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
CHAIN = (Tier(role="clinician", ack_within_s=600), Tier(role="coordinator", ack_within_s=900))


def history(n: int) -> list[tuple[Event, str]]:
    policy = DisclosurePolicyRecorded(
        policy_version=1, jurisdiction="x", disclosable=("imminent_self_harm",), chain=CHAIN
    )
    out: list[tuple[Event, str]] = [(policy, "cfd")]
    for k in range(n):
        x = f"x-{k}"
        triggered = EscalationTriggered(
            case_id=f"c-{k}",
            category="imminent_self_harm",
            raised_by_role="peer",
            policy_version=1,
            disclosable=True,
            chain=CHAIN,
        )
        disclosed = IdentityDisclosed(
            escalation_id=x,
            case_id=f"c-{k}",
            basis="imminent_self_harm",
            requested_by="u",
            disclosed_to="u",
            fields=("name",),
        )
        out += [
            (triggered, x),
            (EscalationTierAdvanced(tier=2, role="coordinator"), x),
            (IdentityRevealRefused(requested_by="u", reason="policy"), x),
            (disclosed, f"c-{k}"),
            (EscalationAcknowledged(tier=2, by="u"), x),
            (EscalationResolved(outcome="member_safe"), x),
        ]
    return out


def test_a_long_history_runs_no_more_statement_objects_than_a_short_one() -> None:
    engine, projection = create_engine("sqlite://"), EscalationProjection()
    ensure_schema(engine, projection)
    seen: dict[int, Any] = {}  # kept alive, so no statement is counted twice under a reused id

    def record(_conn: Any, clause: Any, *_args: Any) -> None:
        seen.setdefault(id(clause), clause)

    event.listen(engine, "before_execute", record)
    steps = history(200)
    with engine.begin() as conn:
        for seq, (ev, subject) in enumerate(steps, start=1):
            env = Envelope.wrap(
                ev, agency="cfd", subject=subject, source="t", time=T0 + timedelta(minutes=seq)
            )
            projection.apply(conn, env, ev, seq)
    assert 0 < len(seen) <= 14, f"{len(seen)} statement objects for {len(steps)} events"  # timers: 3
