"""A projection: a SQL read model built from the log, with the stream position it has applied up to.

`apply_batch` applies a batch of events and moves the position in ONE transaction, skipping what the
position says was applied already; `shared.runner` feeds it live, `shared.replay` rebuilds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, bindparam, select

from shared.contracts.base import Event
from shared.envelope import Envelope
from shared.items import Item, describe

tracking_metadata = MetaData()
positions = Table(
    "projection_position",
    tracking_metadata,
    Column("projection", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
)


class Projection(Protocol):
    """A read model: its tables, and how one event changes them (inside the runner's transaction)."""

    name: str
    metadata: MetaData

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None: ...


def ensure_schema(engine: Engine, projection: Projection) -> None:
    tracking_metadata.create_all(engine)
    projection.metadata.create_all(engine)


_POSITION = select(positions.c.last_seq).where(positions.c.projection == bindparam("name"))
_MOVE = (
    positions.update().where(positions.c.projection == bindparam("name")).values(last_seq=bindparam("seq"))
)
_FIRST = positions.insert()


def position(conn: Connection, name: str) -> int:
    return conn.execute(_POSITION, {"name": name}).scalar() or 0


def set_position(conn: Connection, name: str, seq: int) -> None:
    if conn.execute(_MOVE, {"name": name, "seq": seq}).rowcount == 0:
        conn.execute(_FIRST, {"projection": name, "last_seq": seq})


class Failed(Exception):
    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(describe(cause))
        self.index = index
        self.cause = cause


def apply_batch(engine: Engine, projection: Projection, items: Sequence[Item]) -> None:
    """Apply in one transaction; raises Failed(index) after rolling back everything."""
    with engine.begin() as conn:
        last = position(conn, projection.name)
        start = last
        for i, item in enumerate(items):
            if item.seq <= last:
                continue
            if item.env is not None and item.event is not None and item.problem is None:
                try:
                    projection.apply(conn, item.env, item.event, item.seq)
                except Exception as exc:
                    raise Failed(i, exc) from exc
            last = item.seq
        if last != start:
            set_position(conn, projection.name, last)


VOLATILE_COLUMNS = {"attempted_at"}  # when a timer was last tried: runtime state, not derived from the log


def digest(engine: Engine, projection: Projection) -> str:
    """A content hash of every view table (not the tracking row): equal content, equal digest."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        for table in projection.metadata.sorted_tables:
            h.update(table.name.encode())
            cols = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
            for row in conn.execute(select(*cols).order_by(*cols)):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def reset(engine: Engine, projection: Projection) -> None:
    """Drop the view and its position, then create them empty."""
    projection.metadata.drop_all(engine)
    tracking_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(positions.delete().where(positions.c.projection == projection.name))
    projection.metadata.create_all(engine)
