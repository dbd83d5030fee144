"""Tracking's leadership read model: anonymous counts by agency, week and one coded dimension.

Two table sets, written in one transaction by one projection:

* LEADERSHIP (`trend_counts`) — the only table any report reads. A row is a count: agency, ISO week,
  measure, dimension, value, n. No member_ref, no peer_ref, no case, follow-up or debrief id: nothing
  in it points at a person or a case (tests/tracking/test_schema.py checks columns and content).
* WORKING (`work_*`) — what computing those counts needs to remember between events: a case's coded
  attributes (unit, discipline, activation) and request time until it is assigned, and the agency/week
  of a follow-up or debrief offer until it is answered. Keyed by case/follow-up/debrief id, never by a
  person; rows are deleted once nothing more can be counted from them (case closed or cancelled,
  follow-up completed, offer answered). No route reads them, and the reports still work with them
  dropped (a test does exactly that).

Counts are written at event time as the event is applied, so a report is a small GROUP BY over the
aggregates and never replays the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    bindparam,
    select,
)

from services.tracking.domain import iso_week
from services.tracking.tables import (
    trend_counts,
    work_cases,
    work_debriefs,
    work_followups,
)
from services.tracking.tables import trends_metadata as metadata
from shared.codes import CodeLists
from shared.contracts.base import Event
from shared.contracts.intake import CriticalIncidentReported, RequestCancelled, SupportRequested
from shared.contracts.matching import PeerAssigned
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    DebriefOffered,
    FollowupCompleted,
    FollowupScheduled,
)
from shared.envelope import Envelope
from shared.projection import add_up, unhandled
from shared.topology import consumer

UNKNOWN = "unknown"
RESPONSE_BUCKETS = ("under_15m", "15_60m", "1_4h", "4_24h", "over_24h")


def response_bucket(seconds: float) -> str:
    for limit, bucket in ((900, "under_15m"), (3600, "15_60m"), (4 * 3600, "1_4h"), (86400, "4_24h")):
        if seconds < limit:
            return bucket
    return "over_24h"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Add each row's n to its count: summed per batch, one executemany when the batch commits."""
    add_up(conn, trend_counts, rows, "n")  # an incident naming no agency: no rows, no statement at all


def _counts(agency: str, week: str, measure: str, pairs: list[tuple[str, str]], n: int = 1) -> list[dict]:
    return [
        {"agency": agency, "week": week, "measure": measure, "dimension": d, "value": v, "n": n}
        for d, v in pairs
    ]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Statements built once: per-event cost is then mostly SQLite's (see bench/tracking.py).
ID: BindParameter[str] = bindparam("id")
CASE_INSERT = work_cases.insert()
CASE_FACTS = select(work_cases.c.unit, work_cases.c.discipline, work_cases.c.activation).where(
    work_cases.c.case_id == ID
)
CASE_REQUESTED_AT = select(work_cases.c.requested_at).where(work_cases.c.case_id == ID)
CASE_ASSIGNED = work_cases.update().where(work_cases.c.case_id == ID).values(requested_at=None)
CASE_FORGET = work_cases.delete().where(work_cases.c.case_id == ID)
PENDING = {
    table.name: (
        table.insert(),
        select(table.c.agency, table.c.week).where(table.c[key] == ID),
        table.delete().where(table.c[key] == ID),
    )
    for table, key in ((work_followups, "followup_id"), (work_debriefs, "debrief_id"))
}


class TrendsProjection:
    """Counts by coded facts only: a unit or discipline not on the agency's code list counts as `other`,
    so a report's column labels are configured codes, never what someone typed."""

    name = "tracking-trends"
    defers = True  # counts are summed per batch and written once (shared.projection.add_up)
    built_late = ("trend_counts_by_measure",)  # read by the reports only
    handles = consumer("tracking-trends").events
    metadata = metadata

    def __init__(self, codes: CodeLists | None = None) -> None:
        self.codes = codes or CodeLists()

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        match event:
            case SupportRequested():
                self._requested(conn, env, event)
            case PeerAssigned():
                self._assigned(conn, env)
            case ContactLogged():
                self._contact(conn, env, event)
            case CaseClosed() | RequestCancelled():
                conn.execute(CASE_FORGET, {"id": env.subject})
            case FollowupScheduled():
                self._pending(
                    conn, env, "work_followups", "followup_id", "followups", ("status", "scheduled")
                )
            case FollowupCompleted():
                self._answered(conn, env, "work_followups", "followups", ("status", "completed"))
            case DebriefOffered():
                self._pending(conn, env, "work_debriefs", "debrief_id", "debriefs", ("outcome", "offered"))
            case DebriefAccepted():
                self._answered(conn, env, "work_debriefs", "debriefs", ("outcome", "accepted"))
            case DebriefDeclined():
                self._answered(conn, env, "work_debriefs", "debriefs", ("outcome", "declined"))
            case CriticalIncidentReported():
                week = iso_week(env.time)
                rows = [
                    r
                    for a in sorted(set(event.agencies))
                    for r in _counts(a, week, "incidents", [("all", "all")])
                ]
                _upsert(conn, rows)
            case _:
                unhandled(event)

    def _requested(self, conn: Connection, env: Envelope, event: SupportRequested) -> None:
        unit = self.codes.unit(env.agency, event.unit) or UNKNOWN
        discipline = self.codes.discipline(env.agency, event.discipline) or UNKNOWN
        facts = {
            "case_id": env.subject,
            "agency": env.agency,
            "unit": unit,
            "discipline": discipline,
            "activation": event.activation,
            "requested_at": _utc(env.time),
        }
        conn.execute(CASE_INSERT, facts)
        pairs = [("all", "all"), ("unit", unit), ("discipline", discipline), ("activation", event.activation)]
        _upsert(conn, _counts(env.agency, iso_week(env.time), "requests", pairs))

    def _assigned(self, conn: Connection, env: Envelope) -> None:
        at = conn.execute(CASE_REQUESTED_AT, {"id": env.subject}).scalar()
        if at is None:
            return  # a reassignment (only the first assignment counts) or a case no longer followed
        bucket = response_bucket((_utc(env.time) - _utc(at)).total_seconds())
        conn.execute(CASE_ASSIGNED, {"id": env.subject})
        _upsert(conn, _counts(env.agency, iso_week(_utc(at)), "response_time", [("bucket", bucket)]))

    def _contact(self, conn: Connection, env: Envelope, event: ContactLogged) -> None:
        case = conn.execute(CASE_FACTS, {"id": env.subject}).first()
        unit, discipline, activation = tuple(case) if case else (UNKNOWN, UNKNOWN, UNKNOWN)
        pairs = [
            ("all", "all"),
            ("unit", unit),
            ("discipline", discipline),
            ("activation", activation),
            ("mode", event.mode),
            ("duration", event.duration),
            ("referral", event.referral),
            ("followup_wanted", yes_no(event.followup_wanted)),
            ("risk_flag", yes_no(event.risk_flag)),
            *(("category", c) for c in sorted(set(event.categories))),
        ]
        _upsert(conn, _counts(env.agency, event.week, "contacts", pairs))

    def _pending(
        self, conn: Connection, env: Envelope, table: str, key: str, measure: str, pair: tuple[str, str]
    ) -> None:
        week = iso_week(env.time)
        conn.execute(PENDING[table][0], {key: env.subject, "agency": env.agency, "week": week})
        _upsert(conn, _counts(env.agency, week, measure, [pair]))

    def _answered(
        self, conn: Connection, env: Envelope, table: str, measure: str, pair: tuple[str, str]
    ) -> None:
        _, find, forget = PENDING[table]
        row = conn.execute(find, {"id": env.subject}).first()
        if row is None:
            return  # answered twice, or never offered: nothing to count
        conn.execute(forget, {"id": env.subject})
        _upsert(conn, _counts(row.agency, row.week, measure, [pair]))
