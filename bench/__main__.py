"""`python -m bench`: one private nats-server, raw baselines, then Peerline's projection machinery; then
each service's own benchmark (matching, escalation, wellness, tracking), the rebuild beside the eventsourcing
library and every service's resident memory at a small and a large history, all in one table and one JSON."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from rich.console import Console

from bench.otlp import Sink
from bench.report import Report, show, write
from bench.run import Settings, run
from bench.services import STAGES, Sizes, run_all
from shared.db import SQLITE_PRAGMAS
from shared.natsserver import binary
from tests.support.bus import start_server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--events", type=int, default=50_000, help="events to publish and consume (default 50000)")
    p.add_argument("--out", type=Path, default=Path("bench/results"), help="directory for the JSON result")
    p.add_argument("--batch", type=int, default=500, help="pull fetch size, baseline A and the runner")
    p.add_argument("--rebuild-batch", type=int, default=1000, help="events per transaction in rebuild")
    p.add_argument("--latency-rate", type=float, default=1000.0, help="offered events/s for the round trip")
    p.add_argument("--latency-seconds", type=float, default=3.0, help="how long to offer that rate")
    p.add_argument("--timeout", type=float, default=300.0, help="abort the whole run after this many seconds")
    p.add_argument(
        "--services",
        default=",".join(STAGES),
        help=f"stages after the raw and projection ones ('' = none; default {','.join(STAGES)})",
    )
    p.add_argument("--tracking-events", type=int, default=Sizes.tracking_events, help="tracking's history")
    p.add_argument("--matching-requests", type=int, default=Sizes.matching_requests, help="matching's burst")
    p.add_argument("--wellness-incidents", type=int, default=Sizes.wellness_incidents, help="wellness' burst")
    p.add_argument(
        "--eventsourcing-events",
        type=int,
        default=Sizes.eventsourcing_events,
        help="events rebuilt by Peerline and by the eventsourcing library",
    )
    p.add_argument(
        "--rebuild-events",
        type=int,
        default=Sizes.rebuild_events,
        help="the mixed history (demo activity model) every service's replay rebuilds from",
    )
    p.add_argument(
        "--memory-events",
        type=int,
        default=Sizes.memory_events,
        help=f"large history for the memory stage (small = {Sizes.memory_small:,}; the issue asks 1000000)",
    )
    args = p.parse_args(argv)
    args.services = tuple(s for s in args.services.split(",") if s)
    if unknown := set(args.services) - set(STAGES):
        p.error(f"unknown service stage(s): {', '.join(sorted(unknown))}")
    if min(args.events, args.batch, args.rebuild_batch, args.latency_rate, args.latency_seconds) <= 0:
        p.error("counts, rates and durations must be positive")
    return args


def server_version() -> str:
    done = subprocess.run([binary(), "--version"], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout.strip() or done.stderr.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # `kill` ends the run like Ctrl-C: the services and nats-server it started are stopped, not orphaned
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Sink().as_endpoint() as sink:  # every service started below exports its spans here, as deployed
        return measure(args, sink)


def measure(args: argparse.Namespace, sink: Sink) -> int:
    cfg = Settings(args.events, args.batch, args.rebuild_batch, args.latency_rate, args.latency_seconds)
    console = Console() if sys.stdout.isatty() else Console(width=160)  # a log file keeps every column
    report = Report(
        datetime.now(UTC),
        meta={
            "events": args.events,
            "batch": args.batch,
            "rebuild_batch": args.rebuild_batch,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "nats_server": server_version(),
            "nats_py": version("nats-py"),
            "sqlalchemy": version("sqlalchemy"),
            "pydantic": version("pydantic"),
            "jetstream": "file storage, sync_interval always, loopback",
            "sqlite": ", ".join(SQLITE_PRAGMAS) + " (shared.db.make_engine)",
        },
    )
    report.meta["loadavg_1m_before"] = os.getloadavg()[0]
    t0 = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory(prefix="peerline-bench-") as tmp:
        server = start_server(Path(tmp) / "nats")
        try:
            asyncio.run(asyncio.wait_for(run(server.url, Path(tmp), cfg, report, console), args.timeout))
        except Exception as exc:  # report what was measured before the failure, then fail
            error = f"{type(exc).__name__}: {exc}"
            if time.perf_counter() - t0 >= args.timeout:  # nats-py may mask the cancellation
                error = f"timed out after {args.timeout:g}s ({error})"
            else:
                console.print_exception()
        finally:
            server.stop()
    sizes = Sizes(
        matching_requests=args.matching_requests,
        wellness_incidents=args.wellness_incidents,
        tracking_events=args.tracking_events,
        eventsourcing_events=args.eventsourcing_events,
        memory_events=args.memory_events,
        rebuild_events=args.rebuild_events,
    )
    report.meta["service_stages"] = {"run": list(args.services), **vars(sizes)}
    run_all(report, sizes, console, args.services)
    report.meta["error"] = error
    report.meta["spans_exported"] = {"exports": sink.exports, **dict(sink.spans)}
    report.meta["spans_by_name"] = dict(sink.names.most_common())
    report.meta["wall_s"] = round(time.perf_counter() - t0, 1)
    report.meta["loadavg_1m_after"] = os.getloadavg()[0]
    show(console, report)
    path = write(report, args.out)
    console.print(f"wrote {path} (whole run {report.meta['wall_s']}s)")
    if error is not None:
        console.print(f"[bold red]aborted: {error}[/]")
        return 1
    return 0 if all(ok is True for ok in report.checks.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
