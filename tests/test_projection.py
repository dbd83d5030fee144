"""The projection runner against a real nats-server: exactly once, dead letters, retries, rebuild."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from shared.contracts.base import Event
from shared.contracts.intake import SupportRequested
from shared.db import make_engine
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.items import Item
from shared.natsserver import NatsServer
from shared.projection import add_later, digest, later, position, replace_later
from shared.replay import rebuild, rebuild_many
from shared.runner import ProjectionRunner
from shared.topology import DLQ_STREAM, Consumer
from tests.pg import fresh_database
from tests.support.bus import connect, provisioned

pytestmark = pytest.mark.integration


class Counting:
    """Counts requests per activation; a second apply of one event would show as a wrong count."""

    handles: tuple[type[Event], ...] = (SupportRequested,)

    def __init__(
        self, name: str, fail_on: set[int] | None = None, fail_times: int = 10**6, table: str = "counts"
    ) -> None:
        self.name = name
        self.metadata = MetaData()
        self.counts = Table(
            table,
            self.metadata,
            Column("activation", String, primary_key=True),
            Column("n", Integer, nullable=False),
        )
        self.fail_on = fail_on or set()
        self.fail_times = fail_times
        self.failures = 0

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if seq in self.fail_on and self.failures < self.fail_times:
            self.failures += 1
            raise RuntimeError("database said no")
        assert isinstance(event, SupportRequested)
        done = conn.execute(
            self.counts.update()
            .where(self.counts.c.activation == event.activation)
            .values(n=self.counts.c.n + 1)
        )
        if done.rowcount == 0:
            conn.execute(self.counts.insert().values(activation=event.activation, n=1))

    def total(self, engine: Engine) -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(self.counts.c.n), 0))).scalar_one())


def recording(name: str, table: str = "counts") -> tuple[Counting, list[int]]:
    """A Counting projection that also lists the sequence of every event it applies, in order."""
    proj, seen = Counting(name, table=table), []
    original = proj.apply

    def apply(conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        seen.append(seq)
        original(conn, env, event, seq)

    proj.apply = apply  # type: ignore[method-assign]
    return proj, seen


def agency() -> str:
    return "t" + uuid.uuid4().hex[:10]


async def consumer_for(js: JetStreamContext, ag: str, ack_wait: float = 30.0) -> Consumer:
    c = Consumer(f"test-{ag}", (f"ev.{ag}.case.>",), ack_wait_s=ack_wait)
    await js.add_consumer(STREAM, c.config())
    return c


async def publish_requests(js: JetStreamContext, ag: str, n: int) -> list[int]:
    store = EventStore(js)
    seqs = []
    for i in range(n):
        payload = SupportRequested(
            activation=("self", "peer")[i % 2], member_ref=new_id("m"), token_hash="0" * 64
        )
        seqs.append(
            await store.append([Envelope.wrap(payload, agency=ag, subject=new_id("c"), source="t")], 0)
        )
    return seqs


async def drain(runner: ProjectionRunner, rounds: int = 20) -> None:
    for _ in range(rounds):
        if await runner.step(timeout=0.3) == 0:
            return


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Every runner test runs against SQLite and PostgreSQL, each in a fresh database."""
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/view.db")
    return make_engine(fresh_database(request.getfixturevalue("pg_url"), "v"))


async def test_applies_each_event_once_and_tracks_position(js: JetStreamContext, engine: Engine) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await publish_requests(js, ag, 25)
    proj = Counting(c.durable)
    runner = ProjectionRunner(js, engine, proj, c, batch=10)
    await runner.start()
    await drain(runner)
    assert proj.total(engine) == 25
    with engine.connect() as conn:
        assert position(conn, proj.name) == seqs[-1]


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing inside the runner catches it."""


async def test_killed_between_commit_and_ack_does_not_apply_twice(
    js: JetStreamContext, engine: Engine
) -> None:
    ag = agency()
    c = await consumer_for(js, ag, ack_wait=1.0)
    await publish_requests(js, ag, 5)
    proj = Counting(c.durable)

    def die(_: Sequence[Item]) -> None:
        raise Crash

    first = ProjectionRunner(js, engine, proj, c, on_committed=die)
    await first.start()
    with pytest.raises(Crash):
        await first.step()
    assert proj.total(engine) == 5  # committed, never acked
    info = await js.consumer_info(STREAM, c.durable)
    assert info.num_ack_pending == 5

    second = ProjectionRunner(js, engine, proj, c)
    await second.start()
    await asyncio.sleep(1.2)  # the unacked batch is redelivered after ack_wait
    await drain(second)
    assert proj.total(engine) == 5
    info = await js.consumer_info(STREAM, c.durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def dlq_messages(js: JetStreamContext, durable: str) -> list[dict[str, str]]:
    out = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(DLQ_STREAM, seq=seq, subject=f"dlq.{durable}", next=True)
        except Exception:
            return out
        out.append(dict(msg.headers or {}))
        seq = (msg.seq or 0) + 1


async def test_malformed_event_is_dead_lettered_and_later_events_apply(
    js: JetStreamContext, engine: Engine
) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    await publish_requests(js, ag, 2)
    bad = Envelope.wrap(
        SupportRequested(activation="self", member_ref="m-1", token_hash="x"),
        agency=ag,
        subject="c-bad",
        source="t",
    ).model_dump(mode="json")
    bad["data"]["activation"] = "telepathy"
    bad_ack = await js.publish(f"ev.{ag}.case.c-bad.support_requested", Envelope(**bad).to_bytes())
    junk_ack = await js.publish(f"ev.{ag}.case.c-junk.support_requested", b"{not json")
    await publish_requests(js, ag, 2)

    proj = Counting(c.durable)
    runner = ProjectionRunner(js, engine, proj, c)
    await runner.start()
    await drain(runner)
    assert proj.total(engine) == 4
    dead = await dlq_messages(js, c.durable)
    by_seq = {d["Peerline-Original-Seq"]: d for d in dead}
    assert set(by_seq) == {str(bad_ack.seq), str(junk_ack.seq)}
    assert "activation" in by_seq[str(bad_ack.seq)]["Peerline-Reason"]
    assert "telepathy" not in by_seq[str(bad_ack.seq)]["Peerline-Reason"]  # values are not echoed
    assert "invalid" in by_seq[str(junk_ack.seq)]["Peerline-Reason"]


async def test_event_whose_subject_names_another_agency_or_case_is_dead_lettered(
    js: JetStreamContext, engine: Engine
) -> None:
    """The log's per-case checks and every consumer's filter go by the subject: an event stored under
    another agency's or case's subject than its envelope names is no event of either, and is refused."""
    ag = agency()
    c = await consumer_for(js, ag)
    event = SupportRequested(activation="self", member_ref="m-1", token_hash="0" * 64)
    elsewhere = Envelope.wrap(event, agency="cfd", subject="c-1", source="t").to_bytes()
    other_case = Envelope.wrap(event, agency=ag, subject="c-1", source="t").to_bytes()
    acks = [
        await js.publish(f"ev.{ag}.case.c-1.support_requested", elsewhere),
        await js.publish(f"ev.{ag}.case.c-2.support_requested", other_case),
    ]
    await publish_requests(js, ag, 1)
    proj = Counting(c.durable)
    runner = ProjectionRunner(js, engine, proj, c)
    await runner.start()
    await drain(runner)
    assert proj.total(engine) == 1
    dead = {d["Peerline-Original-Seq"]: d["Peerline-Reason"] for d in await dlq_messages(js, c.durable)}
    assert set(dead) == {str(a.seq) for a in acks}
    assert all("subject" in reason for reason in dead.values())


async def test_failing_handler_is_retried_then_succeeds(js: JetStreamContext, engine: Engine) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await publish_requests(js, ag, 6)
    proj = Counting(c.durable, fail_on={seqs[2]}, fail_times=2)
    runner = ProjectionRunner(js, engine, proj, c, backoff=(0.01,))
    await runner.start()
    await drain(runner)
    assert proj.failures == 2
    assert proj.total(engine) == 6
    assert await dlq_messages(js, c.durable) == []


class Deferring(Counting):
    """Counts through `add_later`, logs each event through `later` and keeps each activation's latest event
    through `replace_later`: all written once per batch, in the batch's transaction."""

    defers = True

    def __init__(self, name: str, fail_on: set[int] | None = None, fail_times: int = 10**6) -> None:
        super().__init__(name, fail_on, fail_times)
        self.log = Table("log", self.metadata, Column("seq", Integer, primary_key=True))
        self.latest = Table(
            "latest", self.metadata, Column("activation", String, primary_key=True), Column("seq", Integer)
        )

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        if seq in self.fail_on and self.failures < self.fail_times:
            self.failures += 1
            raise RuntimeError("database said no")
        assert isinstance(event, SupportRequested)
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(self.counts)
        upsert = insert.on_conflict_do_update(
            index_elements=["activation"], set_={"n": self.counts.c.n + insert.excluded.n}
        )
        assert add_later(conn, upsert, [{"activation": event.activation, "n": 1}])
        later(conn, self.log.insert(), {"seq": seq})
        row = {"activation": event.activation, "seq": seq}
        assert replace_later(conn, self.latest, event.activation, row)


async def test_deferred_writes_commit_with_their_batch_and_vanish_with_a_failed_one(
    js: JetStreamContext, engine: Engine
) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await publish_requests(js, ag, 7)
    proj = Deferring(c.durable, fail_on={seqs[4]}, fail_times=2)
    runner = ProjectionRunner(js, engine, proj, c, batch=5, backoff=(0.01,))
    await runner.start()
    await drain(runner)
    assert proj.failures == 2
    assert proj.total(engine) == 7  # each event counted once, though its batch was tried three times
    with engine.connect() as conn:
        assert sorted(conn.execute(select(proj.log.c.seq)).scalars()) == seqs  # a duplicate would raise
        latest = {r.activation: r.seq for r in conn.execute(select(proj.latest))}
        assert position(conn, proj.name) == seqs[-1]
    assert latest == {"self": seqs[6], "peer": seqs[5]}


class DeferringOnce(Deferring):
    """Also lists each member once, through `later`: a member's second request breaks a unique key only
    when the batch's deferred rows are written, after every event of the batch was applied."""

    def __init__(self, name: str, fail_on: set[int] | None = None) -> None:
        super().__init__(name, fail_on)
        self.members = Table("members", self.metadata, Column("member_ref", String, primary_key=True))

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        super().apply(conn, env, event, seq)
        assert isinstance(event, SupportRequested)
        later(conn, self.members.insert(), {"member_ref": event.member_ref})


async def requests_by(js: JetStreamContext, ag: str, members: Sequence[str]) -> list[int]:
    store, seqs = EventStore(js), []
    for member in members:
        env = Envelope.wrap(
            SupportRequested(activation="self", member_ref=member, token_hash="0" * 64),
            agency=ag,
            subject=new_id("c"),
            source="t",
        )
        seqs.append(await store.append([env], 0))
    return seqs


@pytest.mark.parametrize("batch", [1, 10])
async def test_a_deferred_write_that_fails_is_pinned_on_its_event_which_alone_is_dead_lettered(
    js: JetStreamContext, engine: Engine, batch: int
) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await requests_by(js, ag, ("m-1", "m-2", "m-3", "m-2", "m-4"))
    proj = DeferringOnce(c.durable)
    runner = ProjectionRunner(js, engine, proj, c, batch=batch, backoff=(0.01,), max_deliveries=2)
    await runner.start()
    await drain(runner)
    dead = await dlq_messages(js, c.durable)
    assert [d["Peerline-Original-Seq"] for d in dead] == [str(seqs[3])]
    assert "UNIQUE" in dead[0]["Peerline-Reason"].upper()
    await applied_all_but_the_dead(js, engine, proj, c, seqs[:3] + seqs[4:], seqs[-1])
    with engine.connect() as conn:
        members = sorted(conn.execute(select(proj.members.c.member_ref)).scalars())
    assert members == ["m-1", "m-2", "m-3", "m-4"]


async def applied_all_but_the_dead(
    js: JetStreamContext, engine: Engine, proj: DeferringOnce, c: Consumer, logged: list[int], end: int
) -> None:
    """Exactly `logged` were applied (each counted and logged once), the position is at `end`, and the
    consumer holds nothing back."""
    assert proj.total(engine) == len(logged)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(proj.log.c.seq)).scalars()) == logged
        assert position(conn, proj.name) == end
    info = await js.consumer_info(STREAM, c.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_an_event_before_a_failing_one_that_fails_on_its_own_is_the_one_retried(
    js: JetStreamContext, engine: Engine
) -> None:
    """A handler fails at the fifth event; committing the four before it then breaks a unique key that
    the whole batch never reached (its deferred rows are written only at the end): the fourth is the
    failure, and both are dead-lettered on their own while everything else applies."""
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await requests_by(js, ag, ("m-1", "m-2", "m-3", "m-2", "m-4", "m-5"))
    proj = DeferringOnce(c.durable, fail_on={seqs[4]})
    runner = ProjectionRunner(js, engine, proj, c, batch=10, backoff=(0.01,), max_deliveries=2)
    await runner.start()
    await drain(runner)
    dead = {d["Peerline-Original-Seq"]: d["Peerline-Reason"] for d in await dlq_messages(js, c.durable)}
    assert set(dead) == {str(seqs[3]), str(seqs[4])}
    assert "UNIQUE" in dead[str(seqs[3])].upper() and "RuntimeError" in dead[str(seqs[4])]
    await applied_all_but_the_dead(js, engine, proj, c, [*seqs[:3], seqs[5]], seqs[-1])


async def test_handler_failing_every_time_is_dead_lettered_after_bounded_deliveries(
    js: JetStreamContext, engine: Engine
) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await publish_requests(js, ag, 6)
    proj = Counting(c.durable, fail_on={seqs[3]})
    runner = ProjectionRunner(js, engine, proj, c, backoff=(0.01,), max_deliveries=3)
    await runner.start()
    await drain(runner)
    assert proj.failures == 3
    assert proj.total(engine) == 5
    dead = await dlq_messages(js, c.durable)
    assert [d["Peerline-Original-Seq"] for d in dead] == [str(seqs[3])]
    assert "failed 3 times" in dead[0]["Peerline-Reason"]
    with engine.connect() as conn:
        assert position(conn, proj.name) == seqs[-1]


async def test_rebuild_matches_live_projection(js: JetStreamContext, tmp_path: Path, engine: Engine) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    await publish_requests(js, ag, 120)
    proj = Counting(c.durable)
    live = ProjectionRunner(js, engine, proj, c, batch=50)
    await live.start()
    await drain(live)
    other = make_engine(f"sqlite:///{tmp_path}/rebuilt.db")
    seen: list[tuple[int, int]] = []
    count = await rebuild(
        js, other, Counting(c.durable), c, batch=25, progress=lambda d, t: seen.append((d, t))
    )
    assert count == 120
    assert seen[-1] == (120, 120)
    assert digest(other, proj) == digest(engine, proj)
    # and rebuilding in place leaves the live content unchanged
    await rebuild(js, engine, proj, c)
    assert digest(engine, proj) == digest(other, proj)
    assert proj.total(engine) == 120


@pytest.mark.parametrize("fork", [False, True])
async def test_a_rebuild_skips_what_the_live_runner_dead_letters_and_matches_it(
    js: JetStreamContext, tmp_path: Path, engine: Engine, fork: bool
) -> None:
    """An event its handler always fails on is dead-lettered live after its retries; a rebuild (in this
    process or a forked child) skips it the same way instead of failing, and holds what the live view
    holds."""
    ag = agency()
    c = await consumer_for(js, ag)
    seqs = await publish_requests(js, ag, 40)
    poison = {seqs[7], seqs[31]}
    live_view = Counting(c.durable, fail_on=poison)
    live = ProjectionRunner(js, engine, live_view, c, batch=10, backoff=(0.01,), max_deliveries=2)
    await live.start()
    await drain(live, rounds=40)
    assert live_view.total(engine) == 38
    assert {d["Peerline-Original-Seq"] for d in await dlq_messages(js, c.durable)} == {str(s) for s in poison}
    other = make_engine(f"sqlite:///{tmp_path}/rebuilt.db")
    rebuilt = Counting(c.durable, fail_on=poison)
    assert await rebuild_many(js, other, [(rebuilt, c)], batch=10, fork=fork) == 40
    assert digest(other, rebuilt) == digest(engine, live_view)
    with other.connect() as conn:
        assert position(conn, rebuilt.name) == seqs[-1]


async def test_one_replay_hands_each_projection_only_what_its_filter_selects(
    js: JetStreamContext, tmp_path: Path
) -> None:
    """Several projections rebuilt in one pass over the whole log: each applies exactly the events its
    consumer's filter selects (one agency's cases; one case named by id), in order, and its position
    reaches the end of the log however little of the last batch it wanted."""
    ag, noise, one = agency(), agency(), new_id("c")
    payload = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    single = await EventStore(js).append([Envelope.wrap(payload, agency=ag, subject=one, source="t")], 0)
    await publish_requests(js, noise, 3)
    cases = [single, *await publish_requests(js, ag, 4)]
    await publish_requests(js, noise, 2)
    by_agency, seen_agency = recording("by-agency", table="agency_counts")
    by_case, seen_case = recording("by-case", table="case_counts")
    pairs = [
        (by_agency, Consumer(f"t-{ag}", (f"ev.{ag}.case.>",))),
        (by_case, Consumer(f"t-{one}", (f"ev.*.case.{one}.>",))),
    ]
    engine = make_engine(f"sqlite:///{tmp_path}/both.db")
    read = await rebuild_many(js, engine, pairs, batch=5)
    last = (await js.stream_info(STREAM)).state.last_seq
    assert read == (await js.stream_info(STREAM)).state.messages
    assert (seen_agency, seen_case) == (cases, [single])
    with engine.connect() as conn:
        assert position(conn, by_agency.name) == position(conn, by_case.name) == last


class CountingRunner(ProjectionRunner):
    """Records how many messages each step that found any handled."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.sizes: list[int] = []

    @property
    def handled(self) -> int:
        return sum(self.sizes)

    async def step(self, timeout: float = 1.0) -> int:
        n = await super().step(timeout)
        if n:
            self.sizes.append(n)
        return n


async def test_two_replicas_on_postgresql_apply_each_event_once(
    js: JetStreamContext, request: pytest.FixtureRequest
) -> None:
    """Only the advisory-lock holder consumes; when it stops, the other replica takes over."""
    url = fresh_database(request.getfixturevalue("pg_url"), "r")
    ag = agency()
    c = await consumer_for(js, ag)
    proj = Counting(c.durable)
    first, second = make_engine(url), make_engine(url)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    runners = [CountingRunner(js, first, proj, c), CountingRunner(js, second, Counting(c.durable), c)]
    tasks = [asyncio.create_task(runners[0].run(stop_first))]
    await asyncio.sleep(0.3)  # the first replica takes the lock
    tasks.append(asyncio.create_task(runners[1].run(stop_second)))
    await publish_requests(js, ag, 30)
    await runners[0].caught_up()
    assert proj.total(first) == 30
    assert (runners[0].handled, runners[1].handled) == (30, 0)
    stop_first.set()  # the active replica goes away; the standby takes over
    await tasks[0]
    await publish_requests(js, ag, 20)
    for _ in range(100):  # the count commits before the runner acks and tallies the batch
        if proj.total(second) == 50 and runners[1].handled == 20:
            break
        await asyncio.sleep(0.1)
    assert proj.total(second) == 50
    assert runners[1].handled == 20
    stop_second.set()
    await tasks[1]


async def test_events_a_dead_consumer_had_fetched_are_applied_first(
    js: JetStreamContext, engine: Engine
) -> None:
    """JetStream redelivers a dead subscriber's batch only after its ack wait, and hands out newer events
    meanwhile; the runner must still apply everything, in stream order, skipping nothing."""
    ag = agency()
    c = await consumer_for(js, ag, ack_wait=30.0)
    first = await publish_requests(js, ag, 5)
    dead = await js.pull_subscribe_bind(c.durable, stream=STREAM)
    assert len(await dead.fetch(5, timeout=2)) == 5  # fetched, then the process "dies": never acked
    await dead.unsubscribe()
    later = await publish_requests(js, ag, 5)

    proj, seen = recording(c.durable)
    runner = ProjectionRunner(js, engine, proj, c)
    await runner.start()
    await drain(runner)
    assert seen == first + later
    assert proj.total(engine) == 10


async def test_a_delivery_taken_by_another_subscriber_mid_run_is_not_skipped(
    js: JetStreamContext, engine: Engine
) -> None:
    """While running, the runner trusts the consumer's delivery counter instead of looking up the log;
    a delivery it never saw (another subscriber fetched it and died) must still be applied, in order."""
    ag = agency()
    c = await consumer_for(js, ag, ack_wait=30.0)
    proj, seen = recording(c.durable)
    runner = ProjectionRunner(js, engine, proj, c, batch=3)
    await runner.start()
    first = await publish_requests(js, ag, 3)
    await drain(runner)
    stolen = await publish_requests(js, ag, 2)
    other = await js.pull_subscribe_bind(c.durable, stream=STREAM)
    assert len(await other.fetch(2, timeout=2)) == 2  # fetched elsewhere, never acked
    await other.unsubscribe()
    later = await publish_requests(js, ag, 3)
    await drain(runner)
    assert seen == first + stolen + later
    assert proj.total(engine) == 8


async def reading_all(js: JetStreamContext, ag: str) -> Consumer:
    """A consumer that reads the whole log from now on and wants only this agency's case events."""
    c = Consumer(f"test-all-{ag}", (f"ev.{ag}.case.>",), ack_wait_s=30.0, read_all=True)
    cfg = c.config()
    cfg.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
    cfg.opt_start_seq = (await js.stream_info(STREAM)).state.last_seq + 1
    await js.add_consumer(STREAM, cfg)
    return c


@pytest.mark.unit
def test_a_consumer_wants_what_its_filters_match() -> None:
    c = Consumer("x", ("ev.*.case.>", "ev.*.incident.*.critical_incident_reported"))
    assert c.wants("ev.fire.case.c-1.support_requested")
    assert c.wants("ev.fire.incident.i-1.critical_incident_reported")
    assert not c.wants("ev.fire.incident.i-1.incident_responders_added")
    assert not c.wants("ev.fire.case")
    assert not c.wants("ev.fire.peer.p-1.peer_selected")


async def test_a_consumer_reading_the_whole_log_applies_only_what_it_wants(
    js: JetStreamContext, engine: Engine, tmp_path: Path
) -> None:
    ag, noise = agency(), agency()
    c = await reading_all(js, ag)
    for _ in range(3):
        await publish_requests(js, noise, 4)
        await publish_requests(js, ag, 5)
    proj = Counting(c.durable)
    runner = ProjectionRunner(js, engine, proj, c, batch=7)
    await runner.start()
    await drain(runner)
    assert proj.total(engine) == 15  # Counting fails on any other event: the noise was skipped
    info = await js.consumer_info(STREAM, c.durable)
    assert info.num_pending == 0 and info.num_ack_pending == 0  # the skipped ones were acked too
    rebuilt = make_engine(f"sqlite:///{tmp_path}/rebuilt.db")
    read = await rebuild(js, rebuilt, Counting(c.durable), c)
    assert read == (await js.stream_info(STREAM)).state.messages, "its replay reads the whole log too"
    assert digest(rebuilt, proj) == digest(engine, proj)
    filtered = make_engine(f"sqlite:///{tmp_path}/filtered.db")
    read = await rebuild(js, filtered, Counting(c.durable), replace(c, replay_filtered=True))
    assert read == 15, "replay_filtered: the server filters the replay, which reads no noise"
    assert digest(filtered, proj) == digest(engine, proj)


async def test_a_wanted_event_another_subscriber_took_is_applied_before_skipping_past_it(
    js: JetStreamContext, engine: Engine
) -> None:
    ag, noise = agency(), agency()
    c = await reading_all(js, ag)
    proj, seen = recording(c.durable)
    runner = ProjectionRunner(js, engine, proj, c)
    await runner.start()
    first = await publish_requests(js, ag, 2)
    await drain(runner)
    taken = await publish_requests(js, ag, 1)
    other = await js.pull_subscribe_bind(c.durable, stream=STREAM)
    assert len(await other.fetch(1, timeout=2)) == 1  # fetched elsewhere, never acked
    await other.unsubscribe()
    await publish_requests(js, noise, 2)  # the runner's next batch holds only events it skips
    await drain(runner)
    assert seen == first + taken


async def test_a_replay_slower_than_the_log_holds_the_server_back_and_drops_nothing(
    nats_server: NatsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The replay's buffer is bounded and the server's flow control (up to 32 MiB outstanding) is answered
    only as the replay takes messages, so a projection slower than the log never overflows the
    subscription's pending limit (no message dropped, no ordered-consumer restart): here the log holds
    62 MiB on its own server, most of it large messages the replay skips as unreadable."""
    await provisioned(nats_server.url)
    nc = await connect(nats_server.url)
    try:
        js = nc.jetstream()
        ag, n, bulk = agency(), 100, b"x" * 64 * 1024
        payload = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
        for _ in range(n):
            env = Envelope.wrap(payload, agency=ag, subject=new_id("c"), source="t")
            await js.publish(env.nats_subject, env.to_bytes())
            junk = [js.publish(f"ev.{ag}.case.{new_id('c')}.support_requested", bulk) for _ in range(10)]
            await asyncio.gather(*junk)
        proj, seen = recording("slow")
        original = proj.apply

        def slow(conn: Connection, env: Envelope, event: Event, seq: int) -> None:
            time.sleep(0.01)  # a slow database
            original(conn, env, event, seq)

        proj.apply = slow  # type: ignore[method-assign]
        engine = make_engine(f"sqlite:///{tmp_path}/slow.db")
        pairs = [(proj, Consumer(f"t-{ag}", (f"ev.{ag}.case.>",)))]
        with caplog.at_level("ERROR"):
            read = await rebuild_many(js, engine, pairs, batch=10, pending_bytes=40 * 1024 * 1024)
    finally:
        await nc.close()
    assert read == 11 * n and len(seen) == n and seen == sorted(seen)
    assert not [r for r in caplog.records if "slow consumer" in f"{r.getMessage()} {r.exc_info}"]


async def test_a_lingering_runner_applies_what_arrives_after_a_short_batch_in_one_transaction(
    js: JetStreamContext, tmp_path: Path
) -> None:
    ag = agency()
    c = await consumer_for(js, ag)
    engine = make_engine(f"sqlite:///{tmp_path}/view.db")
    proj = Counting(c.durable)
    runner = CountingRunner(js, engine, proj, c, batch=10, linger_s=1.0)
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await publish_requests(js, ag, 1)
        for _ in range(100):  # the first event after a quiet spell is applied at once
            if proj.total(engine) == 1:
                break
            await asyncio.sleep(0.01)
        await publish_requests(js, ag, 5)  # within the pause that follows it
        for _ in range(300):
            if proj.total(engine) == 6:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task
    assert proj.total(engine) == 6
    assert runner.sizes == [1, 5]
