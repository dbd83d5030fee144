"""Tracking's projections run statements built once: a longer history runs the same few statement
objects, never one built per event (building one costs several times what SQLite spends running it)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event

from services.tracking.projection.audit import AuditProjection
from services.tracking.projection.trends import TrendsProjection
from shared.contracts.escalation import EscalationAcknowledged, EscalationTriggered
from shared.envelope import Envelope
from shared.projection import Projection, ensure_schema
from tests.tracking.test_trends import history

pytestmark = pytest.mark.unit


def statements_run(engine: Engine, projection: Projection, envs: list[Envelope]) -> list[Any]:
    """Each distinct statement object the projection executed (kept alive, so none is counted twice)."""
    seen: dict[int, Any] = {}

    def record(_conn: Any, clause: Any, *_args: Any) -> None:
        seen.setdefault(id(clause), clause)

    ensure_schema(engine, projection)
    event.listen(engine, "before_execute", record)
    with engine.begin() as conn:
        for seq, env in enumerate(envs, start=1):
            if type(payload := env.payload()) in projection.handles:  # what its durable delivers
                projection.apply(conn, env, payload, seq)
    event.remove(engine, "before_execute", record)
    return list(seen.values())


def escalations(n: int) -> list[Envelope]:
    triggered = EscalationTriggered(
        case_id="c-1", category="court_order", raised_by_role="peer", policy_version=1, disclosable=True
    )
    acknowledged = EscalationAcknowledged(tier=1, by="u")
    return [
        Envelope.wrap(event, agency="north-fire", subject=f"x-{k}", source="t")
        for k in range(n)
        for event in (triggered, acknowledged)
    ]


@pytest.mark.parametrize(
    ("projection", "most"), [(TrendsProjection(), 12), (AuditProjection(), 3)], ids=["trends", "audit"]
)
def test_a_long_history_runs_no_more_statement_objects_than_it_has_kinds_of_step(
    projection: Projection, most: int
) -> None:
    envs = history(seed=5, n_cases=300) + escalations(100)
    assert len(envs) > 1000
    statements = statements_run(create_engine("sqlite://"), projection, envs)
    assert 0 < len(statements) <= most, f"{len(statements)} statement objects for {len(envs)} events"
