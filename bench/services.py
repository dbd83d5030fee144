"""The per-service benchmarks as stages of `python -m bench`: each starts its own nats-server and its
service as its own process, measures its raw baseline in the same run, and adds Figures to the Report."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench import (
    escalation,
    eventsourcing_compare,
    load,
    matching,
    memory,
    overload,
    pipeline,
    rebuilds,
    tracking,
    wellness,
)
from bench.report import Figure, Report
from tests.support.bus import start_server

P99_TARGET = 5.0  # pipeline p99 ≤ 5 × raw p99
RATE_TARGET = 0.25  # pipeline rate ≥ 0.25 × raw
REBUILD_TARGET = 0.5  # rebuild ≥ 0.5 × raw ordered replay
LIBRARY_TARGET = 10.0  # rebuild ≥ 10 × the eventsourcing library
MEMORY_TARGET = 1.3  # RSS with the large history ≤ 1.3 × RSS with the small one


@dataclass(frozen=True)
class Sizes:
    pipeline_seconds: float = 8.0
    pipeline_incidents: int = 300
    matching_requests: int = 3000
    matching_seconds: float = 8.0
    matching_raw: int = 20_000
    escalation_events: int = 600
    escalation_rate: float = 200.0
    wellness_incidents: int = 400
    wellness_people: int = 8
    wellness_rate: float = 20.0
    tracking_events: int = 20_000
    eventsourcing_events: int = 20_000
    memory_small: int = 10_000
    memory_events: int = 1_000_000  # the size; --memory-events 100000 for a shorter run
    load_events: int = 10_000
    rebuild_events: int = 50_000  # the mixed history every service's replay rebuilds from


async def _pipeline(report: Report, s: Sizes, tmp: Path) -> None:
    r = await pipeline.measure(tmp, seconds=s.pipeline_seconds, incidents=s.pipeline_incidents)
    req, cad, rtt = r["requests"], r["cad"], r["raw_round_trip_ms"]
    raw_name = "raw durable (same server)"
    every = "every service its own process, spans exported; through intake's HTTP API"
    report.add(
        Figure(
            "pipeline: support requests fully assigned",
            req["settled_per_s"],
            "req/s",
            r["raw_publish_per_s"],
            "raw fsynced publishes (64 in flight)",
            target=RATE_TARGET,
            note=f"{every}; closed loop {s.pipeline_seconds:g}s, 64 clients; {req['assigned']} assigned, "
            f"{req['unmatched']} unmatched, answers {req['burst_answers']}",
        )
    )
    lat = req["requested_to_settled_ms"]
    half = f"paced at {req['half_rate_per_s']:.0f}/s (half the max rate); {lat['n']} settled, "
    half += f"{req['paced_assigned']} of them assigned; "
    half += f"POST→settled p99 {req['post_to_settled_ms']['p99']:.0f} ms"
    report.add(Figure("pipeline: requested→settled p50", lat["p50"], "ms", rtt["p50"], "raw RTT", note=half))
    report.add(
        Figure(
            "pipeline: requested→settled p99",
            lat["p99"],
            "ms",
            rtt["p99"],
            "raw RTT",
            P99_TARGET,
            at_most=True,
        )
    )
    report.add(
        Figure(
            "pipeline: CAD incidents → all offers",
            cad["incidents_per_s"],
            "inc/s",
            r["raw_durable_consume_per_s"],
            raw_name,
            target=RATE_TARGET,
            note=f"{cad['incidents']} webhook documents, {pipeline.CREW} people each, 4 clients; "
            f"POST→last offer p99 {cad['post_to_last_offer_ms']['p99']:.0f} ms",
        )
    )
    report.meta["pipeline"] = r
    report.checks["pipeline: every accepted request settled, every incident fully offered"] = (
        req["never_settled"] == 0 and cad["all_offered"] == cad["accepted"] == cad["incidents"]
    )


async def _matching(report: Report, s: Sizes, tmp: Path) -> None:
    r = await matching.measure(s.matching_requests, s.matching_seconds, s.matching_raw, tmp)
    lat, rtt = r["latency_ms"], r["raw_round_trip_ms"]
    raw_name = "raw durable (same server)"
    report.add(
        Figure(
            "matching: support requests assigned",
            r["assignments_per_s"],
            "events/s",
            r["raw_durable_consume_per_s"],
            raw_name,
            target=RATE_TARGET,
            note=f"{s.matching_requests} support_requested at once, one matching process, until the last "
            "peer_assigned; raw = durable pull consumer, fetch 1000, ack each",
        )
    )
    half = f"paced at {r['half_rate_per_s']}/s (half the max rate) for {s.matching_seconds:g}s"
    report.add(Figure("matching: requested→assigned p50", lat["p50"], "ms", rtt["p50"], "raw RTT", note=half))
    report.add(
        Figure(
            "matching: requested→assigned p99",
            lat["p99"],
            "ms",
            rtt["p99"],
            "raw RTT",
            target=P99_TARGET,
            at_most=True,
            note="raw = publish→push-consume round trip at the same rate",
        )
    )


async def _escalation(report: Report, s: Sizes, tmp: Path) -> None:
    server = start_server(tmp / "nats")
    try:
        (raw, stored, flow), cpu_ms = await escalation.run(
            server, tmp, s.escalation_events, s.escalation_rate
        )
    finally:
        server.stop()
    sent = f"{s.escalation_events} at {s.escalation_rate:g}/s"
    for name, lat in (("escalation: risk flag→stored", stored), ("escalation: risk flag→page", flow)):
        report.add(
            Figure(f"{name} p50", lat.p50_ms, "ms", raw.p50_ms, "raw RTT", note=f"{sent}, got {lat.received}")
        )
        report.add(Figure(f"{name} p99", lat.p99_ms, "ms", raw.p99_ms, "raw RTT", P99_TARGET, at_most=True))
    report.add(
        Figure("escalation: CPU per risk flag", cpu_ms, "ms", note="the escalation process, user + system")
    )
    report.checks["escalation: every page arrived"] = (
        stored.received == stored.sent and flow.received == flow.sent
    )


async def _wellness(report: Report, s: Sizes, tmp: Path) -> None:
    server = start_server(tmp / "nats")
    try:
        f = await wellness.measure(
            server, tmp, incidents=s.wellness_incidents, people=s.wellness_people, rate=s.wellness_rate
        )
    finally:
        server.stop()
    shape = f"{s.wellness_people} people each; raw = same fan-out by a bare JetStream consumer"
    report.add(
        Figure(
            "wellness: CAD incidents → all offers",
            f["incidents_per_s"],
            "events/s",
            f["raw_incidents_per_s"],
            "raw fan-out",
            target=RATE_TARGET,
            note=f"{s.wellness_incidents} incidents at once, {shape}",
        )
    )
    paced = f"paced at {s.wellness_rate:g} incidents/s"
    report.add(Figure("wellness: incident→last offer p50", f["offer_p50_ms"], "ms", f["raw_p50_ms"], "raw"))
    report.add(
        Figure(
            "wellness: incident→last offer p99",
            f["offer_p99_ms"],
            "ms",
            f["raw_p99_ms"],
            "raw",
            P99_TARGET,
            at_most=True,
            note=paced,
        )
    )


async def _tracking(report: Report, s: Sizes, tmp: Path) -> None:
    r = await tracking.run(s.tracking_events)
    report.add(
        Figure(
            "tracking: trends rebuild",
            r["projection_rebuild_events_per_s"],
            "events/s",
            r["raw_ordered_replay_events_per_s"],
            "raw ordered",
            target=REBUILD_TARGET,
            note=f"{r['events']:,} mixed events; raw = ordered consumer over the same log",
        )
    )
    slowest = max(v["first_ms"] for v in r["reports"].values())
    report.add(Figure("tracking: slowest first report answer", slowest, "ms", note="uncached"))


async def _rebuilds(report: Report, s: Sizes, tmp: Path) -> None:
    stored, floor, results, running = await rebuilds.measure(s.rebuild_events, tmp)
    for r in results:
        report.add(
            Figure(
                f"rebuild: {r.service} (its replay)",
                r.read_per_s,
                "read/s",
                r.raw.per_s if r.raw else floor.per_s,
                "raw callback, same subscription",
                target=REBUILD_TARGET,
                note=f"{r.read:,} of the log's {r.log:,} events read in one pass "
                f"({'the whole log' if r.read == r.log else 'its server-filtered subjects'}), "
                f"{r.applied:,} applied over its {r.projections} projection(s), {r.seconds:.2f}s; the "
                f"median of {len(r.every)} runs, each before its raw replay "
                f"(rebuild {' / '.join(f'{x:.2f}' for x in r.every)} s, "
                f"raw {' / '.join(f'{x.seconds:.2f}' for x in r.every_raw)} s)",
            )
        )
        report.add(
            Figure(
                f"rebuild: {r.service} vs eventsourcing",
                r.log / r.seconds,
                "log events/s",
                r.log / r.library_seconds,
                "eventsourcing",
                target=1.0,
                note=f"the same {r.log:,}-event log kept by eventsourcing 9.x (SQLite): its notification log "
                "reader and mapper, then the same projections; whole log over rebuild time on both sides",
            )
        )
    for r in running:
        report.add(
            Figure(
                f"live: {r.service} runners catching up",
                r.runner.per_s,
                "events/s",
                r.raw.per_s,
                "raw durable pull",
                target=REBUILD_TARGET,
                note=f"{r.runner.count:,} messages over its consumers; raw = fetch + ack, same filters",
            )
        )
    report.meta["rebuilds"] = {
        "events": stored.events,
        "raw_callback_per_s": round(floor.per_s),
        **{
            r.service: {
                "seconds": round(r.seconds, 2),
                "read": r.read,
                "applied": r.applied,
                "raw_same_subscription_per_s": round(r.raw.per_s) if r.raw else None,
                "each_seconds": [round(x, 3) for x in r.every],
                "each_raw_seconds": [round(x.seconds, 3) for x in r.every_raw],
            }
            for r in results
        },
    }
    report.checks["rebuilds: every service's replay read the log through"] = all(r.read > 0 for r in results)


async def _eventsourcing(report: Report, s: Sizes, tmp: Path) -> None:
    server = start_server(tmp / "nats")
    try:
        r = await eventsourcing_compare.measure(server.url, tmp, s.eventsourcing_events)
    finally:
        server.stop()
    how = (
        f"{r.events:,} support_requested, one per case; Peerline = replay.rebuild, 1000/txn; eventsourcing = "
        "NotificationLogReader + mapper.to_domain_event + the same 2 upserts in prepared sqlite3, 1000/txn; "
        f"its save() ran at {r.eventsourcing_persist_per_s:,.0f}/s"
    )
    for style, rate in r.peerline_per_s.items():
        report.add(
            Figure(
                f"rebuild ({style}) vs eventsourcing 9.x",
                rate,
                "events/s",
                r.eventsourcing_per_s,
                "eventsourcing",
                target=LIBRARY_TARGET,
                note=how,
            )
        )
    report.checks["eventsourcing: Peerline rebuild finished with N rows"] = (
        r.rebuild_finished and r.peerline_totals_ok
    )


async def _memory(report: Report, s: Sizes, tmp: Path) -> None:
    small, large = await memory.measure(tmp, s.memory_small, s.memory_events)
    for name in sorted(small.rss_mib):
        report.add(
            Figure(
                f"memory: {name} RSS, {large.events:,} events",
                large.rss_mib[name],
                "MiB",
                small.rss_mib[name],
                f"{small.events:,}",
                target=MEMORY_TARGET,
                at_most=True,
            )
        )
    report.meta["memory"] = {"small": vars(small), "large": vars(large)}
    report.checks["memory: every service caught up and quiet"] = (
        set(small.rss_mib) == set(large.rss_mib) != set()
    )


async def _overload(report: Report, s: Sizes, tmp: Path) -> None:
    r = await asyncio.to_thread(overload.run, [])
    before, burst, after = (r[k] for k in ("before_latency_ms", "burst_latency_ms", "after_latency_ms"))
    report.add(Figure("overload: capacity (settled/s)", float(r["capacity_per_s"]), "req/s"))  # type: ignore[arg-type]
    codes = r["burst_codes"]
    report.add(
        Figure(
            "overload: p99 POST → settled, 10 s after a 2× burst",
            after["p99"],  # type: ignore[index]
            "ms",
            before["p99"],  # type: ignore[index]
            "before the burst",
            note=f"burst p99 {burst['p99']:.0f} ms; burst answers {codes}",  # type: ignore[index]
        )
    )
    report.checks["overload: nothing accepted was dropped"] = (
        not r["missing_from_log"] and not r["never_settled"]
    )


async def _load(report: Report, s: Sizes, tmp: Path) -> None:
    r = await load.measure(tmp, s.load_events)
    what = f"aggregate load, {r.events:,} events"
    how = (
        f"EventStore.load: batched direct gets, parsed and checked; its raw fetch {r.batched_raw_ms:.0f} ms; "
        f"median of {load.RUNS}, the aggregate's events interleaved with as many others"
    )
    report.add(Figure(what, r.load_ms, "ms", r.one_by_one_ms, "one-by-one direct gets", note=how))
    report.add(Figure(f"{what}, vs ordered consumer", r.load_ms, "ms", r.ordered_ms, "raw ordered consumer"))
    report.meta["load"] = vars(r)
    report.checks["load: every path read the whole aggregate"] = set(r.counts.values()) == {r.events}


STAGES = {
    "load": _load,
    "pipeline": _pipeline,
    "matching": _matching,
    "escalation": _escalation,
    "wellness": _wellness,
    "tracking": _tracking,
    "rebuilds": _rebuilds,
    "eventsourcing": _eventsourcing,
    "memory": _memory,
    "overload": _overload,
}


STAGE_TIMEOUT_S = {"memory": 4 * 3600}  # two clusters catching up with their whole history


def run_all(report: Report, sizes: Sizes, console: Console, only: tuple[str, ...] = tuple(STAGES)) -> None:
    """Each stage in its own event loop and temporary directory; a failed stage is reported, not fatal."""
    for name in only:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"peerline-bench-{name}-") as tmp:
            try:
                asyncio.run(
                    asyncio.wait_for(STAGES[name](report, sizes, Path(tmp)), STAGE_TIMEOUT_S.get(name, 300))
                )
                report.checks[f"{name} stage finished"] = True
            except Exception as exc:
                console.print_exception()
                report.checks[f"{name} stage finished"] = f"{type(exc).__name__}: {exc}"
        console.log(f"{name} stage: {time.perf_counter() - t0:.1f}s")
