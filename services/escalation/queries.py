"""The reads escalation's API serves from its view: open escalations, and one escalation."""

from __future__ import annotations

from sqlalchemy import Connection, select

from services.escalation.tables import escalations

OPEN_COLUMNS = (
    escalations.c.escalation_id,
    escalations.c.case_id,
    escalations.c.category,
    escalations.c.status,
    escalations.c.tier,
    escalations.c.tier_role,
    escalations.c.disclosable,
    escalations.c.policy_version,
    escalations.c.triggered_at,
    escalations.c.deadline_at,
)


def open_escalations(conn: Connection, agency: str, limit: int) -> list[dict[str, object]]:
    q = (
        select(*OPEN_COLUMNS)
        .where(escalations.c.agency == agency, escalations.c.status != "resolved")
        .order_by(escalations.c.triggered_at)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def find(conn: Connection, escalation_id: str) -> dict[str, object] | None:
    row = conn.execute(
        select(*OPEN_COLUMNS, escalations.c.agency).where(escalations.c.escalation_id == escalation_id)
    ).mappings()
    first = row.first()
    return dict(first) if first else None
