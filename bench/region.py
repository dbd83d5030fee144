"""`python -m bench.region` (`make bench-region`): a regional history (default 5,000,000 events: 100
agencies, three years, every service's events) generated once into `var/bench-region/<key>/` and reused
while the parameters match; then every service's projections rebuilt from it by the service's own replay,
with progress bars; one table of the total time and each service's rate beside the raw callback replay
of the same log. Target (issue 20): all services rebuilt in at most 10 minutes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bench.region_rebuild import REPLAYED, Rebuilt, raw_replay, read_count, readers, rebuild
from bench.region_store import Params, Stored, manifest, write
from bench.timing import Rate
from shared.envelope import STREAM
from tests.support.bus import connect, provisioned, start_server

TARGET_S = 600.0
console = Console() if sys.stdout.isatty() else Console(width=160)  # a log file keeps every column


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.region", description=__doc__)
    p.add_argument("--events", type=int, default=5_000_000, help="events in the history (default 5000000)")
    p.add_argument("--agencies", type=int, default=100)
    p.add_argument("--years", type=int, default=3)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--dir", type=Path, default=Path("var/bench-region"), help="where stored histories live")
    p.add_argument("--services", default=",".join(REPLAYED), help="services to rebuild ('' = none)")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="services rebuilt at once, each its own replay process (default: the machine's cores)",
    )
    args = p.parse_args(argv)
    args.services = tuple(s for s in args.services.split(",") if s)
    if unknown := set(args.services) - set(REPLAYED):
        p.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    if min(args.events, args.agencies, args.years, args.jobs) <= 0:
        p.error("counts must be positive")
    return args


async def fill(url: str, directory: Path, params: Params) -> Stored:
    await provisioned(url)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=manifest(directory) is not None) as bar:
        task = bar.add_task("generating the region's history", total=params.events)
        return await write(url, directory, params, readers(), lambda n: bar.update(task, completed=n))


async def raw(url: str, events: int) -> Rate:
    nc = await connect(url, stock=True)  # nats-py as shipped, its own header parser included
    try:
        js = nc.jetstream()
        assert (await js.stream_info(STREAM)).state.messages == events, "the stored log is not the manifest's"
        return await raw_replay(js, events)
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    params = Params(args.events, args.agencies, args.years, args.seed)
    directory = args.dir / params.key()
    if directory.exists() and manifest(directory) is None:
        shutil.rmtree(directory)  # a generation that did not finish: start it over
    directory.mkdir(parents=True, exist_ok=True)
    server = start_server(directory / "nats")
    try:
        stored = asyncio.run(fill(server.url, directory, params))
        made = f"generated in {stored.generated_s:.0f}s" if stored.generated_s else "reused"
        console.print(f"{stored.events:,} events in {directory} ({made})")
        floor = asyncio.run(raw(server.url, stored.events))
        console.print(f"raw callback replay: {floor.per_s:,.0f} events/s")
        with tempfile.TemporaryDirectory(prefix="peerline-region-") as tmp:
            t0 = time.perf_counter()
            results = rebuild_all(server.url, stored, args.services, Path(tmp), args.jobs)
            total = time.perf_counter() - t0
    finally:
        server.stop()
    show(params, stored, floor, results, total, args.jobs)
    record = {
        "at": datetime.now(UTC).isoformat(),
        "total_s": round(total, 1),
        "raw_per_s": round(floor.per_s),
        "jobs": args.jobs,
    }
    record["services"] = {r.service: {"seconds": round(r.seconds, 1), "ok": r.ok} for r in results}
    (directory / "last-rebuild.json").write_text(json.dumps(record, indent=2))
    return 0 if all(r.ok for r in results) and total <= TARGET_S else 2


def rebuild_all(url: str, stored: Stored, services: tuple[str, ...], tmp: Path, jobs: int) -> list[Rebuilt]:
    """Each service's replay in its own process, `jobs` at once, the longest first (so the last to end is
    a short one); results in the order asked."""
    consumers = readers()
    plan = {
        s: (stored.applied.get(s, 0), read_count(consumers[s], stored.events, stored.applied.get(s, 0)))
        for s in services
    }

    def one(service: str) -> Rebuilt:
        applied, read = plan[service]
        console.rule(f"{service}: rebuilding from {read:,} events")
        return rebuild(url, service, tmp, applied, read)

    order = sorted(services, key=lambda s: -plan[s][1])
    with ThreadPoolExecutor(jobs) as pool:
        done = dict(zip(order, pool.map(one, order), strict=True))
    return [done[s] for s in services]


def show(
    params: Params, stored: Stored, floor: Rate, results: list[Rebuilt], total: float, jobs: int
) -> None:
    table = Table(
        title=f"region rebuild: {stored.events:,} events, {params.agencies} agencies, {params.years} years"
    )
    for column in (
        "service",
        "seconds",
        "events applied",
        "applied/s",
        "log events read",
        "read/s",
        "read/s ÷ raw",
    ):
        table.add_column(column, justify="right" if column != "service" else "left")
    for r in results:
        table.add_row(
            r.service + ("" if r.ok else " (FAILED)"),
            f"{r.seconds:.1f}",
            f"{r.applied:,}",
            f"{r.applied_per_s:,.0f}",
            f"{r.read:,}",
            f"{r.read_per_s:,.0f}",
            f"{r.read_per_s / floor.per_s:.2f}" if floor.per_s else "-",
        )
    table.add_row(
        "raw callback replay",
        f"{floor.seconds:.1f}",
        "",
        "",
        f"{floor.count:,}",
        f"{floor.per_s:,.0f}",
        "1.00",
    )
    console.print(table)
    if not results:
        console.print("no service rebuilt (--services '')")
        return
    met = "met" if total <= TARGET_S and all(r.ok for r in results) else "MISSED"
    at_once = f"{jobs} replay processes at once" if jobs > 1 else "one after another"
    console.print(f"all services rebuilt in {total:.1f}s, {at_once} (target ≤ {TARGET_S:.0f}s: {met})")


if __name__ == "__main__":
    sys.exit(main())
