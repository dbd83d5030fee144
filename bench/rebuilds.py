"""Every service's projections rebuilt as its `replay` command rebuilds them (`shared.replay.rebuild_many`
over the pairs of its composition root's `projections()`, as the read-only `replay` identity, into an
empty SQLite file) from a realistic mixed history — the demo's activity model at a few agencies over a
year (`bench.region_store`, made once under var/bench-region/ and reused) — each beside the raw callback
replay of the same log. Timed in this process, so a service's interpreter start-up is not counted.

A service's rebuild reads what its subscription delivers (`shared.replay.subscription`): the whole log
where one pass serves several projections or a read-all consumer skips in the client, else only its
consumer's subjects (intake's case events; matching's directory events, `Consumer.replay_filtered`).
Its rate is messages read per second beside the raw callback replay of that same subscription, each the
median of `REPEATS` runs taken in turn (rebuild, raw, rebuild, raw, …: this machine's noise moves one run
by a fifth); what its projections applied (summed over them) is reported beside it. A rebuild of 10,000
events or more applies in a forked child process (`shared.applier`), as `peerline replay` does."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from nats.js import JetStreamContext

from bench import live
from bench.eventsourcing_compare import es_rebuild_service, history, log_of
from bench.raw import ordered_baseline
from bench.region import fill, raw
from bench.region_rebuild import REPLAYED
from bench.region_store import Params, Stored, manifest
from bench.timing import Rate
from shared.db import make_engine
from shared.projection import Projection
from shared.replay import rebuild_many, subscription
from shared.topology import Consumer
from tests.support.bus import connect, start_server

STORE = Path("var/bench-region")
REPEATS = 3  # each service's rebuild and its raw replay, measured in turn; the medians are reported


@dataclass(frozen=True)
class Rebuilt:
    service: str
    seconds: float
    read: int  # messages its one pass read from the log (the whole log when it skips in the client)
    applied: int  # events its projections' filters select (summed over its projections)
    log: int = 0  # events in the whole log
    library_seconds: float = 0.0  # the same projections rebuilt through eventsourcing's reader
    raw: Rate | None = None  # the raw callback replay of the same subscription: the same `read` messages
    projections: int = 1
    every: list[float] = field(default_factory=list)  # each attempt's rebuild seconds (`seconds`: median)
    every_raw: list[Rate] = field(default_factory=list)  # each attempt's raw replay (`raw`: the median)

    @property
    def library_ratio(self) -> float:
        """Peerline's rebuild speed over eventsourcing's fastest fair path on the same log (>1: faster)."""
        return self.library_seconds / self.seconds if self.seconds else 0.0

    @property
    def read_per_s(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def roots() -> dict[str, list[tuple[Projection, Consumer]]]:
    from services.escalation.main import projections as escalation
    from services.intake.main import projections as intake
    from services.matching.main import projections as matching
    from services.tracking.main import projections as tracking
    from services.wellness.main import projections as wellness

    made = {
        "intake": intake,
        "matching": matching,
        "escalation": escalation,
        "tracking": tracking,
        "wellness": wellness,
    }
    return {name: made[name]() for name in REPLAYED}


async def library(js: JetStreamContext, events: int, tmp: Path, results: list[Rebuilt]) -> list[Rebuilt]:
    """Each service's projections rebuilt again from the same log kept by the eventsourcing library."""
    app = await asyncio.to_thread(history, await log_of(js, events), tmp)
    try:
        made = roots()
        out = []
        for r in results:
            engine = make_engine(f"sqlite:///{tmp}/es-{r.service}.db")
            seconds = await asyncio.to_thread(es_rebuild_service, app, engine, made[r.service])
            engine.dispose()
            out.append(replace(r, library_seconds=seconds))
        return out
    finally:
        app.close()


async def measure(
    events: int, tmp: Path, agencies: int = 6
) -> tuple[Stored, Rate, list[Rebuilt], list[live.Live]]:
    params = Params(events, agencies=agencies, years=1)
    directory = STORE / params.key()
    if directory.exists() and manifest(directory) is None:
        shutil.rmtree(directory)  # a generation that did not finish: start it over
    directory.mkdir(parents=True, exist_ok=True)
    server = start_server(directory / "nats")
    try:
        stored = await fill(server.url, directory, params)
        floor = await raw(server.url, stored.events)
        nc = await connect(server.url, "replay")
        stock = await connect(server.url, "replay", stock=True)  # the baseline: nats-py as shipped
        results = []
        try:
            for service, pairs in roots().items():
                subject, config = subscription(pairs)
                tooks, raws = [], []
                for attempt in range(REPEATS):  # the rebuild and its raw replay in turn, REPEATS times
                    engine = make_engine(f"sqlite:///{tmp}/{service}-{attempt}.db")
                    t0 = time.perf_counter()
                    read = await rebuild_many(nc.jetstream(), engine, pairs)
                    tooks.append(time.perf_counter() - t0)
                    engine.dispose()
                    raws.append(
                        await ordered_baseline(
                            stock.jetstream(), subject, read, callback=True, stall_s=30.0, config=config
                        )
                    )
                took, same = statistics.median(tooks), sorted(raws, key=lambda r: r.seconds)[REPEATS // 2]
                applied = stored.applied.get(service, 0)
                results.append(
                    Rebuilt(service, took, read, applied, stored.events, 0.0, same, len(pairs), tooks, raws)
                )
            results = await library(nc.jetstream(), stored.events, tmp, results)
        finally:
            await nc.close()
            await stock.close()
        harness = await connect(server.url)
        plain = await connect(server.url, stock=True)
        try:
            js, raw_js = harness.jetstream(), plain.jetstream()
            running = [await live.measure(js, raw_js, tmp, n, p) for n, p in roots().items()]
        finally:
            await harness.close()
            await plain.close()
    finally:
        server.stop()
    return stored, floor, results, running
