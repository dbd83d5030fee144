"""Indexes a rebuild builds late (`shared.projection.late_indexes`): every service's projections rebuilt by
its own replay from a mixed regional history end with exactly the indexes a fresh schema has; no statement
their `apply` ran during the rebuild would read through an index they build late (had it been there, its
plan would name it: else each such read is a table scan while the view loads); and a view whose rebuild
was cut off before building them gets them back at the service's start-up (`ensure_schema`), on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, create_engine, inspect
from sqlalchemy import event as sa_event

from bench.rebuilds import roots
from bench.region_rebuild import readers
from bench.region_store import Params, write
from shared.db import make_engine
from shared.natsserver import NatsServer
from shared.projection import Projection, ensure_schema, late_indexes
from shared.replay import rebuild_many
from shared.topology import Consumer
from tests.pg import fresh_database
from tests.support.bus import connect, provisioned, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
PARAMS = Params(events=3_000, agencies=3, years=1, seed=11)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private nats-server holding a small regional history with every service's events."""
    directory = tmp_path_factory.mktemp("region")
    server: NatsServer = start_server(directory / "nats")
    try:

        async def fill() -> None:
            await provisioned(server.url)
            await write(server.url, directory, PARAMS, readers(), lambda _: None)

        asyncio.run(fill())
        yield server.url
    finally:
        server.stop()


def traced(engine: Engine, into: list[str]) -> None:
    """Every SQL statement SQLite runs on the engine's connections, values in place."""

    @sa_event.listens_for(engine, "connect")
    def _trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(into.append)


async def rebuilt(
    url: str, path: Path, pairs: list[tuple[Projection, Consumer]], into: list[str], db_url: str = ""
) -> Engine:
    engine = make_engine(db_url or f"sqlite:///{path}")
    if not db_url:
        traced(engine, into)
    nc = await connect(url, "replay")
    try:
        assert await rebuild_many(nc.jetstream(), engine, pairs, fork=False) > 0
    finally:
        await nc.close()
    return engine


def indexes(engine: Engine, metadata: MetaData) -> dict[str, set[str]]:
    found = inspect(engine)
    return {t.name: {ix["name"] or "" for ix in found.get_indexes(t.name)} for t in metadata.sorted_tables}


_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def late_reads(engine: Engine, statements: list[str], late: set[str]) -> set[str]:
    """The statements (by shape) whose query plan on the finished view names a late index."""
    examples: dict[str, str] = {}
    for sql in statements:
        if sql.split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE", "INSERT"):
            examples.setdefault(_LITERAL.sub("?", sql), sql)
    reads = set()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for shape, sql in examples.items():
            plan = " ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}"))
            if any(re.search(rf"\b{name}\b", plan) for name in late):
                reads.add(shape)
    return reads


@pytest.mark.parametrize("service", ["intake", "matching", "escalation", "tracking", "wellness"])
async def test_a_rebuilt_view_has_every_index_and_never_read_through_one_built_late(
    region: str, tmp_path: Path, service: str
) -> None:
    pairs = roots()[service]
    statements: list[str] = []
    engine = await rebuilt(region, tmp_path / "view.db", pairs, statements)
    fresh = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    for projection, _ in pairs:
        projection.metadata.create_all(fresh)
        assert indexes(engine, projection.metadata) == indexes(fresh, projection.metadata)
    late = {ix.name for p, _ in pairs for ix in late_indexes(p) if ix.name}
    assert late, "each service builds some index late"
    assert any(s.startswith("INSERT") for s in statements)  # the view's statements were seen
    assert late_reads(engine, statements, late) == set()


async def test_naming_an_index_apply_reads_through_is_caught(
    region: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above on its own: wellness's apply finds an incident's people through
    ix_involvements_incident_id, so naming that index late must show the statements that read it."""
    (projection, consumer), *_ = roots()["wellness"]
    monkeypatch.setattr(type(projection), "built_late", ("ix_involvements_incident_id",))
    statements: list[str] = []
    engine = await rebuilt(region, tmp_path / "view.db", [(projection, consumer)], statements)
    reads = late_reads(engine, statements, {"ix_involvements_incident_id"})
    assert reads and all("involvements" in shape for shape in reads)


async def test_a_rebuild_on_postgresql_ends_with_every_index(
    region: str, tmp_path: Path, pg_url: str
) -> None:
    for service in ("tracking", "wellness"):
        pairs = roots()[service]
        engine = await rebuilt(region, tmp_path, pairs, [], fresh_database(pg_url, service))
        fresh = make_engine(fresh_database(pg_url, "fresh"))
        for projection, _ in pairs:
            projection.metadata.create_all(fresh)
            assert indexes(engine, projection.metadata) == indexes(fresh, projection.metadata)
            assert {ix.name for ix in late_indexes(projection)} <= set().union(
                *indexes(engine, projection.metadata).values()
            )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_start_up_builds_late_indexes_a_cut_off_rebuild_left_out(
    tmp_path: Path, request: pytest.FixtureRequest, dialect: str
) -> None:
    for (projection, _), *_ in roots().values():
        if dialect == "sqlite":
            engine = make_engine(f"sqlite:///{tmp_path / projection.name}.db")
        else:
            engine = make_engine(fresh_database(request.getfixturevalue("pg_url"), "late"))
        ensure_schema(engine, projection)
        whole = indexes(engine, projection.metadata)
        with engine.begin() as conn:
            for index in late_indexes(projection):
                index.drop(conn)
        assert indexes(engine, projection.metadata) != whole
        ensure_schema(engine, projection)
        assert indexes(engine, projection.metadata) == whole
