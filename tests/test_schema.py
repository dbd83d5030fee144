"""A projection's tables made by an older version: what this version added is added in place, and what
no default can fill refuses with the way out (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, select

from shared.db import make_engine
from shared.schema import SchemaBehind, add_missing_columns
from shared.timers import timers_table
from tests.pg import fresh_database

pytestmark = pytest.mark.integration
DUE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/old.db")
    return make_engine(fresh_database(request.getfixturevalue("pg_url"), "schema"))


def older_timers(engine: Engine) -> None:
    """The timers table as the version before `cause` made it, with one pending timer."""
    old = Table(
        "timers",
        MetaData(),
        Column("timer_id", String(160), primary_key=True),
        Column("kind", String(48), nullable=False),
        Column("agency", String(64), nullable=False),
        Column("aggregate_id", String(96), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False, index=True),
        Column("data", Text, nullable=False),
        Column("attempted_at", DateTime(timezone=True)),
    )
    old.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            old.insert().values(timer_id="t1", kind="k", agency="a", aggregate_id="s", due_at=DUE, data="{}")
        )


def test_a_column_added_by_this_version_is_added_and_old_rows_take_its_default(engine: Engine) -> None:
    older_timers(engine)
    metadata = MetaData()
    timers = timers_table(metadata)
    assert add_missing_columns(engine, metadata) == ["timers.cause"]
    with engine.begin() as conn:
        assert conn.execute(select(timers.c.timer_id, timers.c.cause)).all() == [("t1", "")]
        conn.execute(
            timers.insert().values(
                timer_id="t2", kind="k", agency="a", aggregate_id="s", due_at=DUE, data="{}", cause="e-1"
            )
        )
    assert add_missing_columns(engine, metadata) == []  # nothing left to add


def test_a_column_no_default_can_fill_refuses_and_names_the_rebuild(engine: Engine) -> None:
    older_timers(engine)
    metadata = MetaData()
    timers_table(metadata)
    metadata.tables["timers"].append_column(Column("tier", Integer, nullable=False))
    with pytest.raises(SchemaBehind, match=r"timers lacks column tier.*peerline replay"):
        add_missing_columns(engine, metadata)
