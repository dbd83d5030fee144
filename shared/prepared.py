"""Prebuilt statements run straight on the DB-API cursor, compiled once per dialect and parameter keys.

SQLAlchemy's `Connection.execute` rebuilds a cache key, an execution context and a result object for
every call: several times what SQLite spends running a projection's small statements. `Prepared` wraps
the batch's connection and runs each statement it can (no expanding or callable-default parameters, no
RETURNING) as the compiled SQL on the same DB-API connection — so in the same transaction — with the
dialect's own bind and result processors; anything else, and a statement's first run (a statement built
per call is never compiled here), goes to `Connection.execute` unchanged.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Executable, exc
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_CAP = 2048  # compiled plans kept per process; a statement built per call would otherwise grow the cache
_plans: dict[tuple[Any, str, tuple[str, ...]], _Plan | None] = {}
_seen: weakref.WeakSet[Executable] = weakref.WeakSet()  # statements run once: planned from their second run


class _Plan:
    def __init__(self, compiled: SQLCompiler, fixed: dict[str, Any], selects: bool) -> None:
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.fixed = fixed
        self.binds = cast(list[tuple[str, Callable[[Any], Any]]], list(compiled._bind_processors.items()))
        if self.names is not None:
            self.pick = _picker(self.names)
            processors = dict(self.binds)
            self.process = [(i, p) for i, n in enumerate(self.names) if (p := processors.get(n)) is not None]
        self.selects = selects
        dialect = compiled.dialect
        columns = compiled._result_columns
        keys = [c.keyname for c in columns]
        self.row = namedtuple("Row", keys) if keys and len(set(keys)) == len(keys) else None
        self.results = [
            (i, p)
            for i, c in enumerate(columns)
            if (p := c.type._cached_result_processor(dialect, None)) is not None
        ]

    def params(self, row: Mapping[str, Any]) -> Any:
        full = {**self.fixed, **row} if self.fixed else row
        if self.names is None:  # a named paramstyle (PostgreSQL's drivers): a dict
            full = dict(full)
            for name, process in self.binds:
                if name in full:
                    full[name] = process(full[name])
            return full
        values = self.pick(full)
        if not self.process:
            return values
        processed = list(values)
        for i, process in self.process:
            processed[i] = process(processed[i])
        return processed


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The positional values of a row, in the compiled statement's order."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda row: (row[name],)
    return lambda row: ()


def _plan(conn: Connection, statement: Executable, keys: tuple[str, ...]) -> _Plan | None:
    key = (statement, conn.dialect.name, keys)
    if key in _plans:
        return _plans[key]
    if statement not in _seen:  # a statement built per call stays with SQLAlchemy's own cache
        _seen.add(statement)
        return None
    plan = None
    if isinstance(statement, ClauseElement) and (statement.is_dml or statement.is_select):
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
        if isinstance(compiled, SQLCompiler):
            plan = _planned(compiled, statement.is_select)
    if len(_plans) >= _CAP:
        _plans.clear()
    _plans[key] = plan
    return plan


def _planned(compiled: SQLCompiler, selects: bool) -> _Plan | None:
    if (
        compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.escaped_bind_names
        or compiled.update_prefetch
        or compiled.effective_returning
    ):
        return None
    fixed = {n: b.effective_value for n, b in compiled.binds.items() if not b.required and not b.callable}
    for column in compiled.insert_prefetch:
        default = column.default
        if default is None or not default.is_scalar:
            return None  # a callable default: SQLAlchemy's own path computes it
        fixed[column.key] = default.arg  # type: ignore[attr-defined]
    plan = _Plan(compiled, fixed, selects)
    return None if plan.selects and plan.row is None else plan  # rows SQLAlchemy would name ambiguously


class Result:
    """What the projections read back, as SQLAlchemy's results offer it: rows named by column (or the
    scalars or mappings made of them) and the rows changed."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    fetchall = all

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    fetchone = first

    def one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise exc.MultipleResultsFound("more than one row where one was expected")
        return self.first()

    def one(self) -> Any:
        if not self.rows:
            raise exc.NoResultFound("no row where one was expected")
        return self.one_or_none()

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> Result:
        return Result([r[0] for r in self.rows], self.rowcount)

    def mappings(self) -> Result:
        return Result([r._asdict() for r in self.rows], self.rowcount)


class Prepared:
    """A connection whose `execute` takes the prepared path where it can; everything else is the
    connection's own."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cursor: Any = None
        self.info, self.dialect = conn.info, conn.dialect  # read per event by the projections' helpers
        self._dialect = conn.dialect.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, statement: Executable, params: Params = None) -> Any:
        if params.__class__ is dict:  # one row of parameters, the projections' usual call: the short way
            plan = _plans.get((statement, self._dialect, tuple(params)))
            if plan is not None:
                try:
                    args = plan.params(params)
                except KeyError:
                    return self._conn.execute(statement, params)
                return self._run(plan, args, False)
        return self._execute(statement, params)

    def _execute(self, statement: Executable, params: Params) -> Any:
        rows: list[Mapping[str, Any]] = list(params) if isinstance(params, list | tuple) else []
        one: Mapping[str, Any] = {} if params is None or rows else params  # type: ignore[assignment]
        plan = _plan(self._conn, statement, tuple(rows[0] if rows else one))
        many = bool(rows)
        if plan is None or (plan.selects and many) or (params is not None and not rows and not one):
            return self._conn.execute(statement, params)
        try:
            args = [plan.params(r) for r in rows] if many else plan.params(one)
        except KeyError:  # rows with differing keys: SQLAlchemy's path says what is wrong
            return self._conn.execute(statement, params)
        return self._run(plan, args, many)

    def _run(self, plan: _Plan, args: Any, many: bool) -> Result:
        if self._cursor is None:
            self._cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor, dialect = self._cursor, self._conn.dialect
        try:
            if many:
                cursor.executemany(plan.sql, args)
            else:
                cursor.execute(plan.sql, args)
        except dialect.loaded_dbapi.Error as e:
            raise exc.DBAPIError.instance(
                plan.sql, None, e, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
            ) from e
        if not plan.selects:
            return Result([], cursor.rowcount)
        rows = cursor.fetchall()
        if plan.results:
            rows = [list(r) for r in rows]
            for r in rows:
                for i, process in plan.results:
                    r[i] = process(r[i])
        if plan.row is not None:
            rows = [plan.row(*r) for r in rows]
        return Result(rows, len(rows))

    def release(self) -> None:
        """Close the cursor (the connection stays the caller's)."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
