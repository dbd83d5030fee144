"""The reads tracking's API serves: a case's audit timeline; leadership reports (suppressed)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from services.tracking.tables import audit_entries


def timeline(conn: Connection, agency: str, case_id: str) -> list[dict[str, object]]:
    q = (
        select(audit_entries.c.at, audit_entries.c.what, audit_entries.c.peer_ref, audit_entries.c.detail)
        .where(audit_entries.c.case_id == case_id, audit_entries.c.agency == agency)
        .order_by(audit_entries.c.seq)
    )
    return [dict(r) for r in conn.execute(q).mappings()]
