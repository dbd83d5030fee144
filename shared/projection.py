"""A projection: a SQL read model built from the log, with the stream position it has applied up to.

`apply_batch` applies a batch of events and moves the position in ONE transaction, skipping what the
position says was applied already; `shared.runner` feeds it live, `shared.replay` rebuilds it.

A projection handles the events its durable delivers: `handles = consumer("<durable>").events`, the one
list in `shared/consumers/<service>.py` its filter is derived from. An event delivered that `apply` has no
arm for (it calls `unhandled(event)`, before writing anything) or that is not in `handles` is skipped,
counted and logged, never applied by accident; tests/test_projection_subscriptions.py applies a sample of
every delivered event to each projection and requires none of them to be reported.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol, cast

from prometheus_client import Counter
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Executable,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from shared.contracts.base import Event
from shared.envelope import Envelope
from shared.items import Item, describe
from shared.prepared import Prepared
from shared.schema import add_missing_columns

log = logging.getLogger("peerline.projection")
UNHANDLED = Counter(
    "peerline_projection_unhandled_total",
    "events delivered to a projection that does not handle them",
    ["projection"],
)
_reported: set[tuple[str, type[Event]]] = set()  # (projection, event class) already logged once

tracking_metadata = MetaData()
positions = Table(
    "projection_position",
    tracking_metadata,
    Column("projection", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
)


class Unhandled(Exception):
    """Raised by `apply` for an event it has no arm for."""


def unhandled(event: Event) -> NoReturn:
    """`apply`'s last arm (`case _: unhandled(event)`): what its consumer delivers but nothing acts on."""
    raise Unhandled(type(event).type_name())


class Projection(Protocol):
    """A read model: its tables, and how one event changes them (inside the runner's transaction)."""

    name: str
    metadata: MetaData
    handles: tuple[type[Event], ...]  # `consumer(durable).events`: what its durable delivers, `apply` acts on

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None: ...


def ensure_schema(engine: Engine, projection: Projection) -> None:
    """The projection's tables as this version declares them: missing ones made, columns an older version
    lacked added in place where a default can fill them (`shared.schema`), and indexes a rebuild builds
    late made if one was cut off before it built them (`build_late_indexes`)."""
    tracking_metadata.create_all(engine)
    projection.metadata.create_all(engine)
    for column in add_missing_columns(engine, projection.metadata):
        log.warning("projection %s: column %s added to an older version's table", projection.name, column)
    build_late_indexes(engine, projection)


def late_indexes(projection: Projection) -> list[Index]:
    """The indexes named by the projection's `built_late` (optional): ones its `apply` never reads
    through, only its queries. A rebuild drops them while it loads and builds each once at the end
    (`shared.replay`): loaded row by row, an index on a random key (a case id, a due time) costs a B-tree
    descent and dirty pages all over the index for every row; built at the end, it is one sort. Naming
    an index `apply` reads through would make each such read a table scan during a rebuild:
    tests/test_late_indexes.py checks every statement a rebuild runs against the plans of each service."""
    names = frozenset(getattr(projection, "built_late", ()))
    found = [ix for table in projection.metadata.sorted_tables for ix in table.indexes if ix.name in names]
    if missing := names - {ix.name for ix in found}:
        raise ValueError(f"projection {projection.name}: built_late names no index {sorted(missing)}")
    return found


def drop_late_indexes(engine: Engine, projection: Projection) -> None:
    with engine.begin() as conn:
        for index in late_indexes(projection):
            index.drop(conn, checkfirst=True)


def build_late_indexes(engine: Engine, projection: Projection) -> None:
    with engine.begin() as conn:
        for index in late_indexes(projection):
            index.create(conn, checkfirst=True)


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


_LATER = "peerline.later"  # conn.info key: the batch's deferred writes, while a batch is open
_MEMO = "peerline.memo"  # conn.info key: what the batch's projection remembers, while a batch is open


def remembered(conn: Connection, what: str) -> dict[Any, Any]:
    """A dict (one per `what`) that lives as long as the batch's transaction, for a projection to keep rows
    it wrote instead of reading them back for the next event of the same key (events of one case tend to
    arrive together). Fresh for each transaction, so a failed batch's retry starts with nothing
    remembered; outside a batch, an empty dict that nothing keeps. Only for rows that nothing but the
    projection's own `apply` writes, and each write to such a row must update what is remembered."""
    memo: dict[str, dict[Any, Any]] | None = conn.info.get(_MEMO)
    return {} if memo is None else memo.setdefault(what, {})


def later(conn: Connection, statement: Executable, row: dict[str, Any]) -> None:
    """Run `statement` with `row` when the batch commits, one `executemany` per statement, in the same
    transaction; at once outside a batch of a projection that sets `defers = True`.
    Only for rows nothing in `apply` reads back (e.g. an append-only log)."""
    pending: _Pending | None = conn.info.get(_LATER)
    if pending is None:
        conn.execute(statement, row)
    else:
        pending.rows.setdefault(statement, []).append(row)


def replace_later(conn: Connection, table: Table, key: Any, row: dict[str, Any] | None) -> bool:
    """Defer a replace of the row of `table` whose one-column primary key is `key`: at commit, each key's
    last row (None: deleted) is written once, as an upsert setting every column (so it is what a delete
    and an insert would leave, in one index descent instead of two) or a delete. False (nothing
    deferred) when no batch defers: `replace` then writes at once. Only for rows nothing in `apply`
    reads back."""
    pending: _Pending | None = conn.info.get(_LATER)
    if pending is None:
        return False
    pending.keyed.setdefault(table, {})[key] = row
    return True


def replace(conn: Connection, table: Table, key: Any, row: dict[str, Any] | None) -> None:
    """Replace the row of `table` whose one-column primary key is `key` with `row` (None: delete it):
    once per batch when the batch commits (`replace_later`), at once outside a deferring batch. Only for
    rows nothing in `apply` reads back while a batch defers them."""
    if replace_later(conn, table, key, row):
        return
    delete, upsert = _replacing(table, conn.dialect.name)
    if row is None:
        conn.execute(delete, {"key": key})
    else:
        conn.execute(upsert, row)


_REPLACING: dict[tuple[Table, str], tuple[Executable, Executable]] = {}


def _replacing(table: Table, dialect: str) -> tuple[Executable, Executable]:
    """The delete by primary key and the upsert setting every other column from the row, built once per
    table and dialect."""
    found = _REPLACING.get((table, dialect))
    if found is None:
        (pk,) = table.primary_key.columns
        insert = _dialect_insert(table, dialect)
        upsert = insert.on_conflict_do_update(
            index_elements=[pk], set_={c.name: insert.excluded[c.name] for c in table.columns if c is not pk}
        )
        found = _REPLACING[(table, dialect)] = (table.delete().where(pk == bindparam("key")), upsert)
    return found


def add_later(conn: Connection, statement: Executable, rows: list[dict[str, Any]], total: str = "n") -> bool:
    """Defer additive rows (e.g. an upsert adding `n` to a counter): rows equal but for `total` are summed,
    and `statement` runs once per batch with the sums. False (nothing deferred) when no batch defers.
    Only for rows nothing in `apply` reads back."""
    pending: _Pending | None = conn.info.get(_LATER)
    if pending is None:
        return False
    sums = pending.sums.setdefault(statement, {})
    for row in rows:
        rest = dict(row)
        n = rest.pop(total)
        key = tuple(rest.items())
        found = sums.get(key)
        if found is None:
            sums[key] = dict(row)
        else:
            found[total] += n
    return True


_ADDING: dict[tuple[Table, str, str], Executable] = {}


def _dialect_insert(table: Table, dialect: str) -> Any:
    """The dialect's INSERT, which can take ON CONFLICT (PostgreSQL's, else SQLite's)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def add_up(conn: Connection, table: Table, rows: list[dict[str, Any]], total: str) -> None:
    """Add each row's `total` to the row of `table` with the same primary key (inserted with it if there is
    none): summed per batch and written in one executemany when the batch commits (`add_later`), at once
    outside a batch. The upsert is built once per table and dialect. Only for counters nothing in `apply`
    reads back."""
    if not rows:
        return
    key = (table, conn.dialect.name, total)
    statement = _ADDING.get(key)
    if statement is None:
        insert = _dialect_insert(table, conn.dialect.name)
        statement = _ADDING[key] = insert.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={total: table.c[total] + insert.excluded[total]},
        )
    if not add_later(conn, statement, rows, total):
        conn.execute(statement, rows)


class _Pending:
    def __init__(self) -> None:
        self.rows: dict[Executable, list[dict[str, Any]]] = {}
        self.keyed: dict[Table, dict[Any, dict[str, Any] | None]] = {}
        self.sums: dict[Executable, dict[tuple[Any, ...], dict[str, Any]]] = {}

    def flush(self, conn: Connection) -> None:
        for table, rows in self.keyed.items():
            delete, upsert = _replacing(table, conn.dialect.name)
            gone = [{"key": k} for k, r in rows.items() if r is None]
            kept = [r for r in rows.values() if r is not None]
            if gone:
                conn.execute(delete, gone)
            if kept:
                conn.execute(upsert, kept)
        for statement, batch in self.rows.items():
            conn.execute(statement, batch)
        for statement, sums in self.sums.items():
            conn.execute(statement, list(sums.values()))
        self.keyed, self.rows, self.sums = {}, {}, {}


class _FlushFailed(Exception):
    """The batch's deferred writes failed together: no one event is to blame yet."""


def apply_batch(engine: Engine, projection: Projection, items: Sequence[Item]) -> None:
    """Apply in one transaction; raises Failed(index) after rolling back everything. The projection's
    statements run prepared (shared.prepared) on the transaction's own DB-API connection.

    The events before `index` apply on their own. A projection that defers writes them once at the end;
    when that fails (say, an event repeating a unique key an earlier one wrote), or a handler fails after
    events whose deferred rows were never written, the batch is tried again writing each event's rows
    right after it, so that the failure names the first event at fault, as immediate writes would."""
    try:
        _transaction(engine, projection, items, each=False)
    except Failed as failure:
        if failure.index == 0 or not getattr(projection, "defers", False):
            raise
        _transaction(engine, projection, items, each=True)
    except _FlushFailed:
        _transaction(engine, projection, items, each=True)


def _transaction(engine: Engine, projection: Projection, items: Sequence[Item], *, each: bool) -> None:
    with engine.begin() as begun:
        prepared = Prepared(begun)
        conn = cast(Connection, prepared)
        conn.info[_MEMO] = {}
        try:
            if not getattr(projection, "defers", False):
                _apply(conn, projection, items)
                return
            pending = conn.info[_LATER] = _Pending()
            try:
                _apply(conn, projection, items, pending, each=each)
            finally:
                conn.info.pop(_LATER, None)
        finally:
            conn.info.pop(_MEMO, None)
            prepared.release()


def _apply(
    conn: Connection,
    projection: Projection,
    items: Sequence[Item],
    pending: _Pending | None = None,
    *,
    each: bool = False,
) -> None:
    handles = frozenset(projection.handles)
    last = position(conn, projection.name)
    start = last
    for i, item in enumerate(items):
        if item.seq <= last:
            continue
        if item.env is not None and item.event is not None and item.problem is None:
            if type(item.event) not in handles:
                _unhandled(projection.name, type(item.event))
                last = item.seq
                continue
            try:
                projection.apply(conn, item.env, item.event, item.seq)
                if each and pending is not None:
                    pending.flush(conn)
            except Unhandled:
                _unhandled(projection.name, type(item.event))
            except Exception as exc:
                raise Failed(i, exc) from exc
        last = item.seq
    if pending is not None:
        conn.info.pop(_LATER, None)
        try:
            pending.flush(conn)
        except Exception as exc:
            raise _FlushFailed(describe(exc)) from exc
    if last != start:
        set_position(conn, projection.name, last)


def _unhandled(name: str, kind: type[Event]) -> None:
    UNHANDLED.labels(name).inc()
    if (name, kind) not in _reported:
        _reported.add((name, kind))
        log.error("projection %s: received %s, which it does not handle; skipped", name, kind.type_name())


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
