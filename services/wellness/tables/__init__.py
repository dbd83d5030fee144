"""Wellness's view tables (one SQL read model, rebuilt from the log), timers included."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table

from shared.timers import timers_table

metadata = MetaData()
timers = timers_table(metadata)
peers = Table(
    "peers",
    metadata,
    Column("peer_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("member_ref", String(64), index=True),
    Column("overloaded", Boolean, nullable=False, default=False),
    Column("overloaded_at", DateTime(timezone=True)),
    Column("reasons", String(500), nullable=False, default=""),
    Column("on_break", Boolean, nullable=False, default=False),
    Column("break_until", DateTime(timezone=True)),
)
assignments = Table(
    "assignments",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("peer_ref", String(64), nullable=False, index=True),
)
contacts = Table(
    "contacts",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
involvements = Table(
    "involvements",
    metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("incident_agency", String(64), nullable=False),
    Column("incident_id", String(96), nullable=False, index=True),
    Column("member_ref", String(64), nullable=False, index=True),
    Column("agency", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("flags", String(500), nullable=False),
    Column("offered", Boolean, nullable=False, default=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),  # offer windows count from here
    Column("incident_type", String(256), nullable=False, default=""),
    Column("deceased", Boolean, nullable=False, default=False),  # CAD marks them deceased: no offer
)
alerts = Table(
    "lodd_alerts",
    metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("incident_agency", String(64), nullable=False),
    Column("incident_id", String(96), nullable=False, index=True),
    Column("agency", String(64), nullable=False),
    Column("alerted", Boolean, nullable=False, default=False),
)
offers = Table(
    "offers",
    metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("member_ref", String(64), nullable=False, index=True),
    Column("incident_id", String(96), nullable=False),
    Column("role", String(16), nullable=False),
    Column("offer_type", String(32), nullable=False),
    Column("window_opens", String(40), nullable=False),
    Column("window_closes", String(40), nullable=False),
    Column("status", String(16), nullable=False),
)
followups = Table(
    "followups",
    metadata,
    Column("followup_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("case_id", String(64), nullable=False),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("n", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, index=True),
)
planned = Table(
    "planned",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
)
checkins = Table(
    "exposure_checkins",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("member_ref", String(64), nullable=False, index=True),
    Column("incidents_in_window", Integer, nullable=False),
    Column("window_days", Integer, nullable=False),
    Column("offered_at", DateTime(timezone=True), nullable=False),
)
