"""The SQLAlchemy tables of tracking's own database: each projection's, on its own metadata.

Trends: the anonymous leadership counts, and the working tables that hold what a count still waits for.
Audit: each case's timeline, without content.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table

trends_metadata = MetaData()

trend_counts = Table(
    "trend_counts",
    trends_metadata,
    Column("agency", String(64), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("measure", String(24), primary_key=True),
    Column("dimension", String(24), primary_key=True),
    Column("value", String(64), primary_key=True),
    Column("n", Integer, nullable=False),
    Index("trend_counts_by_measure", "measure", "dimension", "week"),
)
LEADERSHIP = (trend_counts,)

work_cases = Table(
    "work_cases",
    trends_metadata,
    Column("case_id", String(96), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("discipline", String(32), nullable=False),
    Column("activation", String(16), nullable=False),
    Column("requested_at", DateTime(timezone=True)),  # cleared once the first assignment is counted
)
work_followups = Table(
    "work_followups",
    trends_metadata,
    Column("followup_id", String(96), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("week", String(8), nullable=False),
)
work_debriefs = Table(
    "work_debriefs",
    trends_metadata,
    Column("debrief_id", String(96), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("week", String(8), nullable=False),
)
WORKING = (work_cases, work_followups, work_debriefs)


audit_metadata = MetaData()
audit_entries = Table(
    "audit_entries",
    audit_metadata,
    Column("seq", Integer, primary_key=True),
    Column("case_id", String(96), nullable=False, index=True),
    Column("agency", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("what", String(32), nullable=False),
    Column("peer_ref", String(96)),
    Column("detail", String(32)),
)
audit_escalations = Table(
    "audit_escalations",
    audit_metadata,
    Column("escalation_id", String(96), primary_key=True),
    Column("case_id", String(96), nullable=False),
    Column("agency", String(64), nullable=False),
)
