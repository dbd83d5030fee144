"""Rebuild rate: Peerline's `shared.replay.rebuild` beside the `eventsourcing` library (9.x, SQLite).

The same N `support_requested` events (one per case, built once by bench.events) are:

- published to a private JetStream and rebuilt by `replay.rebuild` (drop, ordered consumer over the log,
  1000 events per transaction) into `bench.readmodel`'s read model, written both ways: prepared
  statements (`PreparedCaseBoard`, like for like with the sqlite3 view below) and statements built per
  event (`CaseBoard`, as services/*/projection.py do today);
- saved by an eventsourcing `Application` with its SQLite persistence module (one `Case` aggregate per
  case, created by a `Requested` event), then rebuilt the library's way for a SQLite application (its
  SQLite recorder has no subscriptions, so no ProjectionRunner): a `NotificationLogReader` over the
  application's notification log, `app.mapper.to_domain_event` for each notification, and the same two
  upserts per event into a SQLite view.

The eventsourcing view is written with plain sqlite3 (prepared SQL, the same WAL + synchronous=NORMAL
as Peerline's engine, the same 1000 events per transaction), which is cheaper per event than Peerline's
SQLAlchemy Core path: a conservative baseline. Only the rebuild is timed on either side.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.system import NotificationLogReader
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import Engine

from bench import projection_rate, raw
from bench.events import Outgoing, support_requests
from bench.readmodel import CaseBoard, PreparedCaseBoard
from shared.db import SQLITE_PRAGMAS, make_engine
from shared.envelope import STREAM
from shared.items import Item, decode
from shared.projection import Projection, apply_batch, build_late_indexes, drop_late_indexes, reset
from shared.topology import Consumer, provision
from tests.support.bus import connect

CASES = "ev.*.case.>"


class Case(Aggregate):
    """A support request's case, as an eventsourcing aggregate: created by the request."""

    @event("Requested")
    def __init__(
        self,
        case_id: str,
        agency: str,
        activation: str,
        discipline: str | None,
        member_ref: str,
        agency_scope: str,
        language: str | None,
        token_hash: str,
        requested_at: str,
    ) -> None:
        self.case_id = case_id
        self.agency = agency
        self.activation = activation
        self.discipline = discipline
        self.member_ref = member_ref
        self.agency_scope = agency_scope
        self.language = language
        self.token_hash = token_hash
        self.requested_at = requested_at
        self.status = "requested"


class Cases(Application[UUID]):
    """Holds the cases; persisted by eventsourcing's SQLite module."""


def _case(out: Outgoing) -> Case:
    env = json.loads(out.data)
    data = env["data"]
    prefs = data.get("preferences") or {}
    return Case(
        case_id=env["subject"],
        agency=env["agency"],
        activation=data["activation"],
        discipline=data.get("discipline"),
        member_ref=data["member_ref"],
        agency_scope=prefs.get("agency_scope", "any"),
        language=prefs.get("language"),
        token_hash=data["token_hash"],
        requested_at=env["time"],
    )


VIEW_DDL = (
    "CREATE TABLE IF NOT EXISTS es_case (case_id TEXT PRIMARY KEY, agency TEXT NOT NULL, "
    "status TEXT NOT NULL, activation TEXT NOT NULL, discipline TEXT, opened_at TEXT NOT NULL, "
    "last_seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS es_agency_week (agency TEXT NOT NULL, week TEXT NOT NULL, "
    "requests INTEGER NOT NULL, PRIMARY KEY (agency, week))",
    "CREATE TABLE IF NOT EXISTS es_tracking (application_name TEXT PRIMARY KEY, notification_id INTEGER)",
)
CASE_UPSERT = (
    "INSERT INTO es_case VALUES (?, ?, 'requested', ?, ?, ?, ?) "
    "ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, last_seq = excluded.last_seq"
)
WEEK_UPSERT = (
    "INSERT INTO es_agency_week VALUES (?, ?, 1) "
    "ON CONFLICT (agency, week) DO UPDATE SET requests = es_agency_week.requests + 1"
)
TRACK = (
    "INSERT INTO es_tracking VALUES (?, ?) "
    "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id"
)


def _week(iso_time: str) -> str:
    year, week, _ = datetime.fromisoformat(iso_time).isocalendar()
    return f"{year}-W{week:02d}"


def es_rebuild(app: Cases, view_path: Path, batch: int = 1000) -> int:
    """Drop and rebuild the view from the application's notification log; returns events applied."""
    view_path.unlink(missing_ok=True)
    db = sqlite3.connect(view_path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:  # the same as Peerline's views
        db.execute(f"PRAGMA {pragma}")
    for ddl in VIEW_DDL:
        db.execute(ddl)
    reader = NotificationLogReader(app.notification_log, section_size=batch)
    applied = 0
    db.execute("BEGIN")
    for notification in reader.read(start=1):
        domain_event: Any = app.mapper.to_domain_event(notification)
        db.execute(
            CASE_UPSERT,
            (
                domain_event.case_id,
                domain_event.agency,
                domain_event.activation,
                domain_event.discipline,
                domain_event.requested_at,
                notification.id,
            ),
        )
        db.execute(WEEK_UPSERT, (domain_event.agency, _week(domain_event.requested_at)))
        applied += 1
        if applied % batch == 0:
            db.execute(TRACK, (app.name, notification.id))
            db.execute("COMMIT")
            db.execute("BEGIN")
    db.execute(TRACK, (app.name, applied))
    db.execute("COMMIT")
    cases = db.execute("SELECT count(*) FROM es_case").fetchone()[0]
    counted = db.execute("SELECT coalesce(sum(requests), 0) FROM es_agency_week").fetchone()[0]
    db.close()
    if (cases, counted) != (applied, applied):
        raise RuntimeError(f"eventsourcing view has {cases} cases, {counted} counted, {applied} applied")
    return applied


@dataclass(frozen=True)
class Compared:
    events: int
    peerline_per_s: dict[str, float]  # by read-model style (bench.readmodel)
    eventsourcing_per_s: float
    eventsourcing_persist_per_s: float
    peerline_totals_ok: bool
    rebuild_finished: bool


def eventsourcing_side(events: list[Outgoing], tmp: Path, batch: int) -> tuple[float, float]:
    """(persist events/s, rebuild events/s) for the library with SQLite persistence."""
    app = Cases(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp / "eventsourcing.db"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    )
    try:
        cases = [_case(e) for e in events]
        t0 = time.perf_counter()
        for i in range(0, len(cases), batch):
            app.save(*cases[i : i + batch])
        persist_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        applied = es_rebuild(app, tmp / "es-view.db", batch=batch)
        rebuild_s = time.perf_counter() - t0
    finally:
        app.close()
    return len(cases) / persist_s, applied / rebuild_s


async def measure(nats_url: str, tmp: Path, n: int, batch: int = 1000) -> Compared:
    events = support_requests(n)
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        await provision(js)
        await raw.publish_all(js, events)
        rates, ok, finished = {}, True, True
        for board in (PreparedCaseBoard("bench-es-prepared"), CaseBoard("bench-es-per-event")):
            engine = make_engine(f"sqlite:///{tmp}/{board.name}.db")
            try:
                consumer = Consumer(board.name, (CASES,))
                replayed = await projection_rate.replay(js, engine, board, consumer, batch)
                ok = ok and await projection_rate.totals(engine, board) == (n, n)
            finally:
                engine.dispose()
            rates[board.style] = replayed.rate.per_s
            finished = finished and replayed.finished
    finally:
        await nc.close()
    persist, es_rate = eventsourcing_side(events, tmp, batch)
    return Compared(n, rates, es_rate, persist, ok, finished)


class Log(Aggregate):
    """A stretch of the mixed history, as eventsourcing events: each carries one stored event as is."""

    @event("Started")
    def __init__(self) -> None:
        pass

    @event("Logged")
    def log(self, subject: str, data: str) -> None:
        pass


class History(Application[UUID]):
    """The same log as the JetStream stream, persisted by eventsourcing's SQLite module."""


Pairs = list[tuple[Projection, Consumer]]


def history(stored: list[tuple[str, bytes]], tmp: Path, batch: int = 1000) -> History:
    """The events (subject, bytes) saved into an eventsourcing application, in order, `batch` per save."""
    app = History(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp / "eventsourcing-history.db"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    )
    for i in range(0, len(stored), batch):
        stretch = Log()
        for subject, data in stored[i : i + batch]:
            stretch.log(subject, data.decode())
        app.save(stretch)
    return app


def es_rebuild_service(app: History, engine: Engine, pairs: Pairs, batch: int = 1000) -> float:
    """Rebuild a service's real projections from the eventsourcing application's notification log (its
    reader, its mapper, then the same decoding and `apply_batch` as Peerline's replay); returns seconds."""
    t0 = time.perf_counter()
    for projection, _ in pairs:  # as Peerline's replay loads a view (`shared.replay.rebuild_many`)
        reset(engine, projection)
        drop_late_indexes(engine, projection)
    reader = NotificationLogReader(app.notification_log, section_size=batch)
    items: list[Item] = []
    for notification in reader.read(start=1):
        logged: Any = app.mapper.to_domain_event(notification)
        if isinstance(logged, Log.Logged):  # type: ignore[attr-defined]
            items.append(Item(notification.id, logged.subject, logged.data.encode(), None))
        if len(items) >= batch:
            _apply_each(engine, pairs, items)
            items = []
    _apply_each(engine, pairs, items)
    for projection, _ in pairs:
        build_late_indexes(engine, projection)
    return time.perf_counter() - t0


def _apply_each(engine: Engine, pairs: Pairs, items: list[Item]) -> None:
    """Each projection's batch: the events its consumer wants decoded (once for all), the rest skipped."""
    decoded: dict[int, Item] = {}
    for projection, consumer in pairs:
        mine = []
        for item in items:
            if consumer.wants(item.subject):
                if item.seq not in decoded:
                    decoded[item.seq] = decode(Item(item.seq, item.subject, item.data, None))
                mine.append(decoded[item.seq])
            else:
                mine.append(item)  # left undecoded: only skipped
        apply_batch(engine, projection, mine)


async def log_of(js: JetStreamContext, n: int, stall_s: float = 10.0) -> list[tuple[str, bytes]]:
    """The first `n` events of the log, (subject, bytes), read once through an ordered consumer."""
    out: list[tuple[str, bytes]] = []
    done = asyncio.Event()

    async def keep(msg: Msg) -> None:
        out.append((msg.subject, msg.data))
        if len(out) >= n:
            done.set()

    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    sub = await js.subscribe("ev.>", stream=STREAM, ordered_consumer=True, config=config, cb=keep)
    try:
        await asyncio.wait_for(done.wait(), timeout=stall_s + n / 5_000)
    finally:
        await sub.unsubscribe()
    return out[:n]
