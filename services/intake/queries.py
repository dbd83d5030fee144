"""The reads intake's API (and its case projection) make of the case view."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from services.intake.domain import Meeting
from services.intake.tables import cases, meetings

_MEETING = (
    select(
        cases.c.status,
        meetings.c.member_ref,
        meetings.c.peer_ref,
        meetings.c.assignment_id,
        meetings.c.callback,
    )
    .select_from(cases.outerjoin(meetings, cases.c.case_id == meetings.c.case_id))
    .where(cases.c.case_id == bindparam("cid"))
)


def find(conn: Connection, case_id: str) -> dict[str, object] | None:
    row = conn.execute(select(cases).where(cases.c.case_id == case_id)).mappings().first()
    return dict(row) if row else None


def meeting(conn: Connection, case_id: str) -> Meeting | None:
    found = case_meeting(conn, case_id)
    return found if found is not None and found.member_ref else None


def case_meeting(conn: Connection, case_id: str) -> Meeting | None:
    """The case's status and meeting (member_ref "" when the case has no meeting row); None: no case."""
    row = conn.execute(_MEETING, {"cid": case_id}).first()
    if row is None:
        return None
    return Meeting(row.status, row.member_ref or "", row.peer_ref, row.assignment_id or "", row.callback)


def list_cases(conn: Connection, agency: str, status: str | None, limit: int) -> list[dict[str, object]]:
    q = select(cases.c.case_id, cases.c.activation, cases.c.status, cases.c.requested_at, cases.c.updated_at)
    q = q.where(cases.c.agency == agency).order_by(cases.c.requested_at.desc()).limit(limit)
    if status:
        q = q.where(cases.c.status == status)
    return [dict(r) for r in conn.execute(q).mappings()]
