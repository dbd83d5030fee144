"""A projection may keep, for one batch's transaction, the rows it wrote (`shared.projection.remembered`)
instead of reading them back: intake's meetings and matching's held assignments. A view built in one batch
must equal the view built one event per batch, on SQLite and PostgreSQL; the one batch must really read
less; and what was remembered must not outlive its transaction (a failed batch's retry starts empty).
Counters added with `add_up` (tracking's trends, matching's offers per day) are written at once outside a
batch and summed once per key when a batch commits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select
from sqlalchemy import event as sa_event

from services.intake.projection import CaseProjection
from services.matching.projection import DirectoryProjection
from shared.contracts.base import Event
from shared.contracts.intake import CallbackLeft, CallbackReleased, RequestCancelled, SupportRequested
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    PeerEnrolled,
)
from shared.contracts.tracking import CaseClosed
from shared.db import make_engine
from shared.envelope import Envelope
from shared.items import item_of
from shared.projection import Failed, Projection, add_up, apply_batch, digest, remembered, reset
from tests.pg import fresh_database

pytestmark = pytest.mark.integration


def assigned(peer: str, assignment: str) -> PeerAssigned:
    return PeerAssigned(peer_ref=peer, peer_agency="a", assignment_id=assignment)


def lifecycles() -> list[Envelope]:
    """Two cases' events, interleaved: a callback left, released and shredded when the case is handed to
    another peer after one accepted; declines, an expiry, a re-offer, a close and a cancellation."""
    first: list[Event] = [
        SupportRequested(activation="self", member_ref="m-1", token_hash="0" * 64),
        assigned("p-1", "x-1"),
        AssignmentAccepted(peer_ref="p-1", assignment_id="x-1"),
        CallbackLeft(channel="phone"),
        CallbackReleased(peer_ref="p-1", assignment_id="x-1"),
        assigned("p-2", "x-2"),
        AssignmentDeclined(peer_ref="p-2", assignment_id="x-2"),
        assigned("p-3", "x-3"),
        AssignmentAccepted(peer_ref="p-3", assignment_id="x-3"),
        CaseClosed(),
    ]
    second: list[Event] = [
        SupportRequested(activation="self", member_ref="m-2", token_hash="1" * 64),
        assigned("p-1", "y-1"),
        AssignmentExpired(peer_ref="p-1", assignment_id="y-1"),
        assigned("p-2", "y-2"),
        CallbackLeft(channel="text"),
        RequestCancelled(),
    ]
    out = [  # the peers, so that their active-case counts show each release
        Envelope.wrap(PeerEnrolled(discipline="fire"), agency="a", subject=peer, source="t")
        for peer in ("p-1", "p-2", "p-3")
    ]
    for i in range(max(len(first), len(second))):
        for case, events in (("c-1", first), ("c-2", second)):
            if i < len(events):
                out.append(Envelope.wrap(events[i], agency="a", subject=case, source="t"))
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    if request.param == "sqlite":
        made = (make_engine(f"sqlite:///{tmp_path}/one.db"), make_engine(f"sqlite:///{tmp_path}/each.db"))
    else:
        url = request.getfixturevalue("pg_url")
        made = (make_engine(fresh_database(url, "m")), make_engine(fresh_database(url, "m")))
    yield made
    for engine in made:
        engine.dispose()


def reads(engine: Engine) -> list[str]:
    """Every SELECT the engine's connections run on a view table from now on (SQLite only)."""
    seen: list[str] = []

    def trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(
            lambda sql: seen.append(sql) if sql.lstrip().upper().startswith("SELECT") else None
        )

    sa_event.listen(engine, "connect", trace)
    engine.dispose()  # connections made from here on are traced
    return seen


@pytest.mark.parametrize("projection", [CaseProjection(), DirectoryProjection()], ids=lambda p: p.name)
def test_a_view_built_in_one_batch_equals_the_view_built_event_by_event(
    engines: tuple[Engine, Engine], projection: Projection
) -> None:
    one, each = engines
    items = [item_of(env, seq) for seq, env in enumerate(lifecycles(), start=1)]
    items = [i for i in items if type(i.event) in projection.handles]
    traced = one.dialect.name == "sqlite"
    read_one, read_each = (reads(one), reads(each)) if traced else ([], [])
    for engine in engines:
        reset(engine, projection)
    apply_batch(one, projection, items)
    for item in items:
        apply_batch(each, projection, [item])
    assert digest(one, projection) == digest(each, projection)
    if traced:  # the one batch read back less than the event-by-event build: it remembered
        assert len(read_one) < len(read_each) - len(items)


class Remembering:
    """Remembers each event's sequence, and fails (once) on the sequence named, after remembering it."""

    name = "remembering"
    metadata = MetaData()
    handles = frozenset({SupportRequested})

    def __init__(self, fail_on: int) -> None:
        self.fail_on = fail_on
        self.first_seen: list[dict[str, int]] = []  # what was remembered when each batch began

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        memo = remembered(conn, "seqs")
        if not memo.get("began"):
            self.first_seen.append(dict(memo))
            memo["began"] = 1
        memo[f"seq-{seq}"] = seq
        if seq == self.fail_on:
            self.fail_on = 0
            raise RuntimeError("fails once")


def test_what_a_batch_remembered_is_gone_when_its_transaction_ends(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    projection = Remembering(fail_on=2)
    reset(engine, projection)
    items = [item_of(env, seq) for seq, env in enumerate(lifecycles()[3:9], start=1)]
    requests = [i for i in items if isinstance(i.event, SupportRequested)]
    with pytest.raises(Failed):
        apply_batch(engine, projection, requests)
    apply_batch(engine, projection, requests)  # the retry
    assert projection.first_seen == [{}, {}]  # each transaction began with nothing remembered
    with engine.begin() as conn:
        assert remembered(conn, "seqs") == {}  # outside a batch: nothing kept
        remembered(conn, "seqs")["x"] = 1
        assert remembered(conn, "seqs") == {}


COUNTS = Table(
    "counts",
    MetaData(),
    Column("peer_ref", String(16), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("offers", Integer, nullable=False),
)


def offers(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(COUNTS.c.peer_ref, COUNTS.c.offers)).all())  # type: ignore[arg-type]


class Adding:
    """Adds one offer for each request's case, through `add_up`, and notes what the table held meanwhile."""

    name = "adding"
    defers = True
    metadata = COUNTS.metadata
    handles = frozenset({SupportRequested})

    def __init__(self) -> None:
        self.seen: list[dict[str, int]] = []

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        add_up(conn, COUNTS, [{"peer_ref": env.subject, "day": "d1", "offers": 1}], "offers")
        self.seen.append(offers(conn))


def test_add_up_adds_at_once_outside_a_batch_and_once_per_key_when_a_batch_commits(
    engines: tuple[Engine, Engine],
) -> None:
    engine, _ = engines
    projection = Adding()
    reset(engine, projection)
    rows = [{"peer_ref": "c-1", "day": "d1", "offers": 1}, {"peer_ref": "c-2", "day": "d1", "offers": 2}]
    with engine.begin() as conn:  # no batch: written at once, an upsert adding to what is there
        add_up(conn, COUNTS, rows, "offers")
        add_up(conn, COUNTS, rows[:1], "offers")
        assert offers(conn) == {"c-1": 2, "c-2": 2}
    items = [item_of(env, seq) for seq, env in enumerate(lifecycles(), 1)]
    requests = [i for i in items if isinstance(i.event, SupportRequested)] * 3  # each case three times
    requests = [replace(item, seq=seq) for seq, item in enumerate(requests, start=1)]
    apply_batch(engine, projection, requests)
    assert all(seen == {"c-1": 2, "c-2": 2} for seen in projection.seen)  # nothing written mid-batch
    with engine.connect() as conn:
        assert offers(conn) == {"c-1": 5, "c-2": 5}  # summed, written when the batch committed
