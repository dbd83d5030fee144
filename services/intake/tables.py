"""The SQLAlchemy tables of intake's own database (the vault keeps its own, in services/intake/vault)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

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

# Who the member meets: whose case it is, the peer who accepted it, what became of a callback.
meetings = Table(
    "meetings",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("member_ref", String(64), nullable=False, index=True),
    Column("peer_ref", String(64)),
    Column("assignment_id", String(96), nullable=False, default=""),
    Column("callback", String(16)),  # left | released | shredded
)
