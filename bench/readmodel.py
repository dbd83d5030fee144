"""The benchmark's read model: what a real Peerline projection does for each `support_requested`.

Two upserts per event, in Core SQLAlchemy: the case's status row (keyed by the envelope subject) and
the agency's count for the ISO week the request was made in. Two ways to write the same `apply`:

- `CaseBoard` builds its statements per event with `.values(...)`, as `services/*/projection.py` do;
- `PreparedCaseBoard` builds them once and passes only parameters per event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Executable,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from shared.contracts.base import Event
from shared.contracts.intake import SupportRequested
from shared.envelope import Envelope


def _insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT … ON CONFLICT (SQLite and PostgreSQL share the shape)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def iso_week(env: Envelope) -> str:
    year, week, _ = env.time.isocalendar()
    return f"{year}-W{week:02d}"


class CaseBoard:
    """Per-case status for coordinators, plus requests per agency per ISO week."""

    style = "per-event stmts"
    handles: tuple[type[Event], ...] = (SupportRequested,)

    def __init__(self, name: str = "bench-case-board") -> None:
        self.name = name
        self.metadata = MetaData()
        self.cases = Table(
            "bench_case",
            self.metadata,
            Column("case_id", String(80), primary_key=True),
            Column("agency", String(64), nullable=False),
            Column("status", String(32), nullable=False),
            Column("activation", String(32), nullable=False),
            Column("discipline", String(64)),
            Column("opened_at", DateTime(timezone=True), nullable=False),
            Column("last_seq", Integer, nullable=False),
        )
        self.weekly = Table(
            "bench_agency_week",
            self.metadata,
            Column("agency", String(64), primary_key=True),
            Column("week", String(8), primary_key=True),
            Column("requests", Integer, nullable=False),
        )

    def case_upsert(self, insert: Any) -> Executable:
        return insert.on_conflict_do_update(
            index_elements=[self.cases.c.case_id],
            set_={"status": insert.excluded.status, "last_seq": insert.excluded.last_seq},
        )

    def week_upsert(self, insert: Any) -> Executable:
        return insert.on_conflict_do_update(
            index_elements=[self.weekly.c.agency, self.weekly.c.week],
            set_={"requests": self.weekly.c.requests + 1},
        )

    @staticmethod
    def case_row(env: Envelope, event: SupportRequested, seq: int) -> dict[str, Any]:
        return {
            "case_id": env.subject,
            "agency": env.agency,
            "status": "requested",
            "activation": event.activation,
            "discipline": event.discipline,
            "opened_at": env.time,
            "last_seq": seq,
        }

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if not isinstance(event, SupportRequested):
            return
        conn.execute(self.case_upsert(_insert(conn, self.cases).values(**self.case_row(env, event, seq))))
        conn.execute(
            self.week_upsert(
                _insert(conn, self.weekly).values(agency=env.agency, week=iso_week(env), requests=1)
            )
        )

    def totals(self, conn: Connection) -> tuple[int, int]:
        """(case rows, sum of weekly counts): both equal the number of events applied exactly once."""
        cases = conn.execute(select(func.count()).select_from(self.cases)).scalar_one()
        counted = conn.execute(select(func.coalesce(func.sum(self.weekly.c.requests), 0))).scalar_one()
        return int(cases), int(counted)


class PreparedCaseBoard(CaseBoard):
    """The same read model; statements are built on first use and executed with parameters after."""

    style = "prepared stmts"

    def __init__(self, name: str = "bench-case-board-prepared") -> None:
        super().__init__(name)
        self._statements: tuple[Executable, Executable] | None = None

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if not isinstance(event, SupportRequested):
            return
        if self._statements is None:
            self._statements = (
                self.case_upsert(_insert(conn, self.cases)),
                self.week_upsert(_insert(conn, self.weekly)),
            )
        case, week = self._statements
        conn.execute(case, self.case_row(env, event, seq))
        conn.execute(week, {"agency": env.agency, "week": iso_week(env), "requests": 1})
