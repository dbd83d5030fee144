"""The benchmark's stages, in order, against one JetStream connection; figures and checks go to a Report."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext
from rich.console import Console

from bench import projection_rate, raw
from bench.events import support_requests
from bench.readmodel import CaseBoard, PreparedCaseBoard
from bench.report import Figure, Report
from bench.tally import ErrorTally
from bench.timing import Rate, Stopwatch
from shared.db import make_engine
from shared.envelope import STREAM
from shared.projection import digest
from shared.topology import Consumer, provision
from tests.support.bus import connect

CASES = "ev.*.case.>"
LATENCY_AGENCY = "bench-latency"
# "ref": figures from /work/shared/MEASURED.md (a 2-core machine, same stack), a sanity check for raw rows.
MEASURED = {"publish_async": 26_600.0, "pull ack each": 16_700.0, "ordered replay": 112_000.0}


@dataclass(frozen=True)
class Settings:
    events: int
    batch: int
    rebuild_batch: int
    latency_rate: float
    latency_seconds: float


@dataclass(frozen=True)
class Baselines:
    pull: Rate
    ordered: Rate
    ordered_next_msg: Rate


@dataclass
class Bench:
    js: JetStreamContext
    workdir: Path
    cfg: Settings
    report: Report
    tally: ErrorTally
    console: Console

    def stage(self, name: str) -> None:
        self.tally.stage = name

    def log(self, text: str) -> None:
        self.console.log(text)

    async def publish(self) -> None:
        n = self.cfg.events
        with Stopwatch() as built:
            events = await asyncio.to_thread(support_requests, n)
        self.report.meta["event_bytes_avg"] = avg = round(sum(len(e.data) for e in events) / n)
        self.log(f"built {n:,} events ({avg} B avg) in {built.seconds:.1f}s")
        self.stage("publish")
        published = await raw.publish_all(self.js, events)
        self.log(f"published {published.count:,} in {published.seconds:.2f}s")
        self.report.add(
            Figure(
                "publish_async",
                published.per_s,
                "events/s",
                MEASURED["publish_async"],
                "ref",
                note="Nats-Msg-Id + Ce-Type headers; the server fsyncs every write (sync_interval always)",
            )
        )

    async def baselines(self) -> Baselines:
        n, batch = self.cfg.events, self.cfg.batch
        self.stage("A")
        pulled = await raw.pull_baseline(self.js, Consumer("bench-raw-pull", (CASES,)), n, batch=batch)
        self.log(f"baseline A (pull) {pulled.count:,} in {pulled.seconds:.2f}s")
        self.report.add(
            Figure(
                f"A pull fetch({batch}) + ack",
                pulled.per_s,
                "events/s",
                MEASURED["pull ack each"],
                "ref",
                note="the reference used fetch(1000)",
            )
        )
        self.stage("B")
        ordered = await raw.ordered_baseline(self.js, CASES, n, callback=True)
        self.log(f"baseline B (ordered, callback) {ordered.count:,} in {ordered.seconds:.2f}s")
        self.report.add(
            Figure("B ordered push, callback", ordered.per_s, "events/s", MEASURED["ordered replay"], "ref")
        )
        self.stage("B'")
        stepped = await raw.ordered_baseline(self.js, CASES, n, callback=False)
        self.log(f"baseline B' (ordered, next_msg) {stepped.count:,} in {stepped.seconds:.2f}s")
        self.report.add(
            Figure(
                "B' ordered push, next_msg",
                stepped.per_s,
                "events/s",
                ordered.per_s,
                "B",
                note="the loop replay.rebuild runs: its ceiling",
            )
        )
        self.report.checks.update(
            {
                "A consumed N": pulled.count == n,
                "B replayed N": ordered.count == n,
                "B' replayed N": stepped.count == n,
            }
        )
        return Baselines(pulled, ordered, stepped)

    async def projection(self, board: CaseBoard, base: Baselines) -> None:
        """ProjectionRunner over the whole log, then an in-place rebuild; both checked for exactly-once."""
        n, style = self.cfg.events, board.style
        engine = make_engine(f"sqlite:///{self.workdir}/{board.name}.db")
        consumer = Consumer(board.name, (CASES,))
        try:
            self.stage(f"runner ({style})")
            live = await projection_rate.live(self.js, engine, board, consumer, n, batch=self.cfg.batch)
            await self.js.delete_consumer(STREAM, consumer.durable)
            self.log(f"ProjectionRunner, {style}: {live.count:,} in {live.seconds:.2f}s")
            self.report.add(
                Figure(
                    f"runner, {style}",
                    live.per_s,
                    "events/s",
                    base.pull.per_s,
                    "A",
                    target=0.25,
                    note=f"fetch({self.cfg.batch}); 2 upserts per event",
                )
            )
            live_totals = await projection_rate.totals(engine, board)
            live_digest = await asyncio.to_thread(digest, engine, board)

            self.stage(f"rebuild ({style})")
            replayed = await projection_rate.replay(
                self.js, engine, board, consumer, batch=self.cfg.rebuild_batch
            )
            rebuilt = replayed.rate
            self.log(f"rebuild, {style}: {rebuilt.count:,} in {rebuilt.seconds:.2f}s {replayed.problem}")
            note = (
                f"{self.cfg.rebuild_batch} events per transaction; "
                f"{rebuilt.per_s / base.ordered_next_msg.per_s:.2f} of B'"
            )
            if not replayed.finished:
                note += f"; DID NOT FINISH ({replayed.problem}): rate over the events it applied"
            self.report.add(
                Figure(
                    f"rebuild, {style}",
                    rebuilt.per_s,
                    "events/s",
                    base.ordered.per_s,
                    "B",
                    target=0.5,
                    note=note,
                )
            )
            rebuilt_totals = await projection_rate.totals(engine, board)
            rebuilt_digest = await asyncio.to_thread(digest, engine, board)
        finally:
            engine.dispose()
        self.report.checks.update(
            {
                f"{style}: runner handled N": live.count == n,
                f"{style}: live rows and counts == N": live_totals == (n, n),
                f"{style}: rebuild finished": replayed.finished,
                f"{style}: rebuilt rows and counts == N": rebuilt_totals == (n, n),
                f"{style}: rebuilt digest == live digest": rebuilt_digest == live_digest,
            }
        )

    async def round_trip(self) -> None:
        rate, seconds = self.cfg.latency_rate, self.cfg.latency_seconds
        events = await asyncio.to_thread(support_requests, round(rate * seconds), agencies=(LATENCY_AGENCY,))
        self.stage("round trip")
        lat = await raw.round_trip(self.js, f"ev.{LATENCY_AGENCY}.case.>", events, rate)
        self.log(f"round trip: {lat.received}/{lat.sent} received at {lat.achieved_per_s:,.0f}/s")
        self.report.add(
            Figure(
                "round trip p50",
                lat.percentile(50),
                "ms",
                note=f"push consumer acking each; offered {rate:,.0f}/s for {seconds:g}s, "
                f"achieved {lat.achieved_per_s:,.0f}/s, "
                f"received {lat.received}/{lat.sent}, max {lat.max_ms:.2f} ms",
            )
        )
        self.report.add(Figure("round trip p99", lat.percentile(99), "ms"))
        self.report.checks["round trip: received all"] = lat.received == lat.sent


async def run(url: str, workdir: Path, cfg: Settings, report: Report, console: Console) -> None:
    tally = ErrorTally()
    # nats-py as shipped (its own header parser): the raw baselines' client, and the runners' here
    nc = await connect(
        url, stock=True, name="peerline-bench", max_reconnect_attempts=0, error_cb=tally.record
    )
    try:
        js = nc.jetstream()
        await provision(js)
        bench = Bench(js, workdir, cfg, report, tally, console)
        await bench.publish()
        base = await bench.baselines()
        for board in (CaseBoard(), PreparedCaseBoard()):
            await bench.projection(board, base)
        await bench.round_trip()
    finally:
        report.meta["client_drops_by_stage"] = dict(tally.dropped)
        report.meta["client_errors"] = tally.other
        report.checks["no client-side drops"] = not tally.dropped
        await nc.close()
