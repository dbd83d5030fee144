"""The SQLAlchemy tables of matching's own database: the directory view with its timers and, on their own
metadata (outside the rebuildable view: a replay does not drop them), peers' sealed profiles."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from shared.timers import timers_table

metadata = MetaData()
peers = Table(
    "peers",
    metadata,
    Column("peer_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("stage", String(16), nullable=False),
    Column("state", Text, nullable=False),
    Column("active_cases", Integer, nullable=False, default=0),
)
assignments = Table(
    "assignments",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("assignment_id", String(96), nullable=False),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # offered | accepted
)
offers = Table(
    "offers",
    metadata,
    Column("assignment_id", String(96), primary_key=True),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("offered_at", DateTime(timezone=True), nullable=False, index=True),
)
# Offers per peer per UTC day: "offers in the last N days" reads at most N+1 rows a peer (plus the
# first day's own offers), not every offer ever made.
offer_days = Table(
    "offer_days",
    metadata,
    Column("peer_ref", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("offers", Integer, nullable=False),
)
incident_people = Table(
    "incident_people",
    metadata,
    Column("incident_id", String(96), primary_key=True),
    Column("member_ref", String(64), primary_key=True),
)
decisions = Table(
    "decisions",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("peer_ref", String(64)),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("explanation", Text, nullable=False),
)
# Agencies notify has reported reachability for: from then on a peer it never named is unreachable.
reach_agencies = Table("reach_agencies", metadata, Column("agency", String(64), primary_key=True))
# Offers waiting for the peer's answer, for the peer's own list (`respond_by` as the event gave it).
open_offers = Table(
    "open_offers",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("case_agency", String(64), nullable=False),
    Column("assignment_id", String(96), nullable=False),
    Column("peer_ref", String(64), nullable=False, index=True),
    Column("offered_at", DateTime(timezone=True), nullable=False),
    Column("respond_by", String(40)),
)
timers = timers_table(metadata)

profile_metadata = MetaData()
profiles = Table(
    "peer_profiles",
    profile_metadata,
    Column("peer_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
)
