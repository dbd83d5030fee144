"""Statements a projection runs prepared (shared.prepared) write and read exactly what SQLAlchemy's own
path does: the dialect's bind and result processing (SQLite stores datetimes as text), column defaults,
rows named by column, row counts, and SQLAlchemy's errors; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.exc import IntegrityError

from shared.db import make_engine
from shared.prepared import Prepared
from tests.pg import fresh_database

metadata = MetaData()
rows = Table(
    "prepared_rows",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("label", String(16), nullable=False, default="none"),
    Column("n", Integer, nullable=False),
)
INSERT = rows.insert()
FIND = select(rows.c.at, rows.c.label, rows.c.n).where(rows.c.key == bindparam("k"))
ADD = rows.update().where(rows.c.label == bindparam("l")).values(n=rows.c.n + bindparam("d"))
AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path}/prepared.db")
    else:
        made = make_engine(fresh_database(request.getfixturevalue("pg_url"), "p"))
    metadata.create_all(made)
    return made


def fill(engine: Engine, prepared: bool) -> list[tuple[object, ...]]:
    """The same writes and reads, prepared or through SQLAlchemy; returns what was read back."""
    with engine.begin() as begun:
        conn = Prepared(begun) if prepared else begun
        conn.execute(INSERT, [{"key": f"k{i}", "at": AT + timedelta(hours=i), "n": i} for i in range(3)])
        conn.execute(INSERT, {"key": "x", "at": AT, "label": "some", "n": 7})
        changed = conn.execute(ADD, {"l": "none", "d": 10}).rowcount
        found = conn.execute(FIND, {"k": "k1"}).first()
        missing = conn.execute(FIND, {"k": "nobody"}).first()
        at = conn.execute(FIND, {"k": "x"}).scalar()
        assert found is not None
        read = [(changed, found.at, found.label, found.n, missing, at)]
        conn.execute(rows.delete())
    return read


def test_prepared_statements_read_and_write_as_sqlalchemy_does(engine: Engine) -> None:
    assert fill(engine, prepared=True) == fill(engine, prepared=False)
    changed, at, label, n, missing, x_at = fill(engine, prepared=True)[0]
    assert (changed, label, n, missing) == (3, "none", 11, None)
    assert at.replace(tzinfo=UTC) == AT + timedelta(hours=1)  # SQLite gives datetimes back naive
    assert x_at.replace(tzinfo=UTC) == AT


def test_a_failing_prepared_statement_raises_sqlalchemys_error(engine: Engine) -> None:
    with pytest.raises(IntegrityError) as caught, engine.begin() as begun:
        conn = Prepared(begun)
        conn.execute(INSERT, {"key": "same", "at": AT, "n": 1})
        conn.execute(INSERT, {"key": "same", "at": AT, "n": 2})
    assert "INSERT INTO prepared_rows" in (caught.value.statement or "")
    assert (
        caught.value.params is None
    )  # the row's values stay out of the error, as hide_parameters keeps them


def test_prepared_results_offer_what_sqlalchemys_do(engine: Engine) -> None:
    at = AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT  # SQLite's come back naive
    with engine.begin() as begun:
        for conn in (begun, Prepared(begun), Prepared(begun)):  # the first prepared run plans it
            conn.execute(INSERT, [{"key": k, "at": AT, "n": 1} for k in ("a", "b")])
            found = conn.execute(FIND, {"k": "a"})
            assert found.mappings().all() == [{"at": at, "label": "none", "n": 1}]
            assert conn.execute(FIND, {"k": "b"}).scalars().all() == [at]
            assert conn.execute(FIND, {"k": "b"}).one().n == 1
            assert conn.execute(FIND, {"k": "nobody"}).scalar_one_or_none() is None
            conn.execute(rows.delete())
