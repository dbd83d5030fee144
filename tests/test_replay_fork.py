"""A long replay applies its batches in a forked child process (`shared.applier`) while the parent reads
the log: the child's view is the one a thread would have built, on SQLite and PostgreSQL; a batch the
child cannot commit ends the replay with the reason, and the child is gone; a database in memory is
never handed to a child."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select
from sqlalchemy import event as sa_event

from shared.applier import forkable
from shared.contracts.base import Event
from shared.contracts.intake import SupportRequested
from shared.db import make_engine
from shared.envelope import Envelope
from shared.projection import position
from shared.replay import ReplayIncomplete, rebuild_many
from shared.topology import Consumer
from tests.pg import fresh_database
from tests.test_projection import agency, publish_requests

pytestmark = pytest.mark.integration


class ByCase:
    """One row per case: its activation, the sequence it came at, and the process that applied it."""

    handles: tuple[type[Event], ...] = (SupportRequested,)

    def __init__(self, name: str) -> None:
        self.name = name
        self.metadata = MetaData()
        self.rows = Table(
            "by_case",
            self.metadata,
            Column("case_id", String, primary_key=True),
            Column("activation", String, nullable=False),
            Column("seq", Integer, nullable=False),
            Column("pid", Integer, nullable=False),
        )

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        assert isinstance(event, SupportRequested)
        row = {"case_id": env.subject, "activation": event.activation, "seq": seq, "pid": os.getpid()}
        conn.execute(self.rows.insert(), row)

    def appliers(self, engine: Engine) -> set[int]:
        with engine.connect() as conn:
            return set(conn.execute(select(self.rows.c.pid).distinct()).scalars())


def pairs_for(ag: str, noise: str) -> list[tuple[ByCase, Consumer]]:
    return [
        (ByCase(f"cases-{ag}"), Consumer(f"t-{ag}", (f"ev.{ag}.case.>",))),
        (ByCase(f"noise-{noise}"), Consumer(f"t-{noise}", (f"ev.{noise}.case.>",))),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Engine, Engine]:
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/a.db"), make_engine(f"sqlite:///{tmp_path}/b.db")
    url = request.getfixturevalue("pg_url")
    return make_engine(fresh_database(url, "a")), make_engine(fresh_database(url, "b"))


async def test_a_forked_replay_builds_what_a_threaded_one_builds(
    js: JetStreamContext, engines: tuple[Engine, Engine]
) -> None:
    ag, noise = agency(), agency()
    for _ in range(3):
        await publish_requests(js, ag, 40)
        await publish_requests(js, noise, 7)
    forked, threaded = engines
    seen: list[tuple[int, int]] = []
    read = await rebuild_many(
        js, forked, pairs_for(ag, noise), batch=9, fork=True, progress=lambda d, t: seen.append((d, t))
    )
    assert read == await rebuild_many(js, threaded, pairs_for(ag, noise), batch=9, fork=False)
    assert seen[-1] == (read, read), "progress reaches the end once the child has applied it all"
    for (projection, _), (same, _) in zip(pairs_for(ag, noise), pairs_for(ag, noise), strict=True):
        assert os.getpid() not in projection.appliers(forked), "applied in the child"
        assert same.appliers(threaded) == {os.getpid()}, "applied in this process"
        with forked.connect() as a, threaded.connect() as b:
            assert position(a, projection.name) == position(b, projection.name) > 0
        without_pid = [c for c in projection.rows.columns if c.name != "pid"]
        with forked.connect() as a, threaded.connect() as b:
            order = projection.rows.c.seq
            assert list(a.execute(select(*without_pid).order_by(order))) == list(
                b.execute(select(*without_pid).order_by(order))
            )
    assert pairs_for(ag, noise)[0][0].appliers(forked)  # something was applied at all


async def test_a_batch_the_child_cannot_commit_ends_the_replay_with_its_reason(
    js: JetStreamContext, tmp_path: Path
) -> None:
    """Not an event a handler fails on (skipped, as live: tests/test_projection.py), but the database
    refusing the batch's transaction."""
    ag, noise = agency(), agency()
    await publish_requests(js, ag, 1500)
    engine = make_engine(f"sqlite:///{tmp_path}/failing.db")

    parent = os.getpid()

    @sa_event.listens_for(engine, "commit")
    def refuse(conn: Connection) -> None:
        if os.getpid() != parent:  # the child's transactions only (the parent empties the view first)
            raise ValueError(f"disk full writing {tmp_path}")  # a message quoting data: never passed on

    children = _children()
    with pytest.raises(ReplayIncomplete) as raised:  # batches larger than the pipe holds: the next one is
        # still being sent when the child stops, and the reason is read all the same
        await rebuild_many(js, engine, pairs_for(ag, noise), batch=700, fork=True)
    reason = str(raised.value)
    assert "ValueError in test_replay_fork.refuse" in reason and str(tmp_path) not in reason, reason
    assert _children() == children, "the child was reaped"


@pytest.mark.unit
def test_a_database_in_memory_is_never_handed_to_a_child(tmp_path: Path) -> None:
    assert not forkable(make_engine("sqlite://"))
    assert not forkable(make_engine("sqlite:///:memory:"))
    assert forkable(make_engine(f"sqlite:///{tmp_path}/on-disk.db"))
    assert not Path("sqlite:").exists(), "an in-memory URL makes no file"


def _children() -> set[int]:
    """This process's child processes, zombies included (nats-server and PostgreSQL among them)."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:  # a child not reaped stays listed, as a zombie
                found.add(int(entry.name))
    return found
