"""Intake's read model: each case's status, for the requester (by token) and the coordinator."""

from __future__ import annotations

from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, bindparam, select

from services.intake.domain import Case, evolve
from shared.contracts.base import Event
from shared.contracts.intake import SupportRequested
from shared.envelope import Envelope

metadata = MetaData()
cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("activation", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
)


# Built once: constructing statements per event costs several times what SQLite spends running them.
_INSERT = cases.insert()
_STATUS = select(cases.c.status).where(cases.c.case_id == bindparam("cid"))
_UPDATE = (
    cases.update()
    .where(cases.c.case_id == bindparam("cid"))
    .values(status=bindparam("new_status"), updated_at=bindparam("at"), last_seq=bindparam("seq"))
)


class CaseProjection:
    name = "intake-cases"
    metadata = metadata

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if isinstance(event, SupportRequested):
            row = {
                "case_id": env.subject,
                "agency": env.agency,
                "activation": event.activation,
                "status": "requested",
                "token_hash": event.token_hash,
                "requested_at": env.time,
                "updated_at": env.time,
                "last_seq": seq,
            }
            conn.execute(_INSERT, row)
            return
        status = conn.execute(_STATUS, {"cid": env.subject}).scalar()
        if status is None:
            return  # an event for a case opened elsewhere (none today): nothing for the requester to see
        new = evolve(Case(status=status), event).status
        conn.execute(_UPDATE, {"cid": env.subject, "new_status": new, "at": env.time, "seq": seq})


def find(conn: Connection, case_id: str) -> dict[str, object] | None:
    row = conn.execute(select(cases).where(cases.c.case_id == case_id)).mappings().first()
    return dict(row) if row else None


def list_cases(conn: Connection, agency: str, status: str | None, limit: int) -> list[dict[str, object]]:
    q = select(cases.c.case_id, cases.c.activation, cases.c.status, cases.c.requested_at, cases.c.updated_at)
    q = q.where(cases.c.agency == agency).order_by(cases.c.requested_at.desc()).limit(limit)
    if status:
        q = q.where(cases.c.status == status)
    return [dict(r) for r in conn.execute(q).mappings()]
