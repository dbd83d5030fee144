"""The SQLAlchemy tables of escalation's own database: policies, escalations, tier timers, the audit chain."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

from shared.timers import timers_table


def audit_table(metadata: MetaData) -> Table:
    return Table(
        "audit_chain",
        metadata,
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("seq", Integer, nullable=False, unique=True),
        Column("event_id", String(96), nullable=False),
        Column("event_type", String(96), nullable=False),
        Column("agency", String(64), nullable=False, index=True),
        Column("aggregate_id", String(96), nullable=False, index=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("body", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )


metadata = MetaData()
policies = Table(
    "policies",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("jurisdiction", String(64), nullable=False),
    Column("body", String(4000), nullable=False),  # the recorded event's data (JSON)
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", String(96), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("case_id", String(96), nullable=False, index=True),
    Column("category", String(48), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("tier", Integer, nullable=False),
    Column("tier_role", String(16), nullable=False),
    Column("disclosable", Boolean, nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("raised_by_role", String(32), nullable=False),
    Column("chain", String(1000), nullable=False),
    Column("acknowledged_by", String(96)),
    Column("outcome", String(32)),
    Column("disclosures", Integer, nullable=False, default=0),
    Column("refusals", Integer, nullable=False, default=0),
    Column("triggered_at", DateTime(timezone=True), nullable=False),
    Column("deadline_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
timers = timers_table(metadata)
chain_table = audit_table(metadata)
