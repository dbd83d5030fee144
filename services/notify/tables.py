"""Notify's own database. Not a projection that can be rebuilt: people's contact points and the on-call
schedule come from people, not from the log, and a replay would send every message again.

- people, contacts: each person's preferences and contact points (sealed with AES-GCM, see sealing.py);
- oncall: the coordinator-managed schedule per agency and role;
- case_peers, escalation_cases: what the inbox remembers from the log to find an audience;
- notices, deliveries: the outbox, one delivery per notice and contact point, with its retries;
- reach: each peer's reachability, and whether its latest change was announced on the log.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

people = Table(
    "people",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("ref", String(96), primary_key=True),
    Column("role", String(32), nullable=False, index=True),
    Column("tz", String(64), nullable=False, default="UTC"),
    Column("quiet_start", String(5)),  # "HH:MM" local time, or None for no quiet hours
    Column("quiet_end", String(5)),
    Column("opt_in", Boolean, nullable=False, default=False),  # responders: debrief offers, check-ins
)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", String(40), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("ref", String(96), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("working", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

oncall = Table(
    "oncall",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("role", String(32), primary_key=True),
    Column("ref", String(96), primary_key=True),
    Column("starts_at", DateTime(timezone=True), primary_key=True),
    Column("ends_at", DateTime(timezone=True), nullable=False),
)

case_peers = Table(
    "case_peers",
    metadata,
    Column("case_id", String(96), primary_key=True),
    Column("peer_agency", String(64), nullable=False),
    Column("peer_ref", String(96), nullable=False),
)

escalation_cases = Table(
    "escalation_cases",
    metadata,
    Column("escalation_id", String(96), primary_key=True),
    Column("case_id", String(96), nullable=False),
    Column("raised_by_role", String(32), nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(40), primary_key=True),
    Column("source_event_id", String(96), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("escalation_id", String(96)),
    Column("tier", Integer),
    Column("role", String(32)),
    Column("outcome", String(16), nullable=False, default="pending"),  # pending / reached / missed
    Column("missed_reason", String(32)),
    Column("reported", Boolean, nullable=False, default=False),  # page_missed published
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(40), primary_key=True),
    Column("notice_id", String(40), nullable=False, index=True),
    Column("contact_id", String(40), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("link", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="pending", index=True),  # pending/sending/sent/dead
    Column("reason", String(16)),
    Column("reported", Boolean, nullable=False, default=False),  # outcome event published
)

reach = Table(
    "reach",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("ref", String(96), primary_key=True),
    Column("reachable", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("reported", Boolean, nullable=False, default=False),
)
