"""`python -m bench.chaos`: requests and CAD incidents while services die (kill -9) and nats-server
restarts; then the invariants, read from the log. `--cluster`: three nats-server processes in one
JetStream cluster with every stream at R3, and instead of restarts, kill -9 of a node (every other time
the log's stream leader), 5 times unless `--nats-restarts` says otherwise."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.chaos.cad import CadAccepted, register_roster, send_incidents
from bench.chaos.cluster import Cluster
from bench.chaos.contacts import Contacts, report_contacts
from bench.chaos.invariants import (
    case_violations,
    digest_violations,
    followup_violations,
    incident_violations,
    settled,
)
from bench.chaos.workload import send_requests
from shared.topology import all_consumers
from tests.support.cluster import lagging
from tests.support.natscluster import NatsCluster


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=100.0, help="requests offered per second")
    p.add_argument("--incidents", type=int, default=1_000, help="critical CAD incidents (~20%% resent)")
    p.add_argument("--cad-rate", type=float, default=0.0, help="incidents/s (0 = over the run)")
    p.add_argument("--roster", type=int, default=40, help="roster members with CAD ids, per agency")
    p.add_argument("--kills", type=int, default=20, help="kill -9 of a random service, spread over the run")
    p.add_argument(
        "--nats-restarts",
        type=int,
        default=None,
        help="nats-server restarts (3); with --cluster: node kills (5)",
    )
    p.add_argument("--cluster", action="store_true", help="a 3-node NATS cluster, streams at R3")
    p.add_argument("--contacts", type=int, default=300, help="assigned cases whose peer reports a contact")
    p.add_argument(
        "--followups", default="PT3S,PT8S", help="follow-ups due this long after the first contact"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--settle", type=float, default=120.0, help="seconds allowed for the system to catch up")
    args = p.parse_args(argv)
    if args.nats_restarts is None:
        args.nats_restarts = 5 if args.cluster else 3
    return args


async def chaos(cluster: Cluster, args: argparse.Namespace, console: Console) -> None:
    rng = random.Random(args.seed)
    roster = await register_roster(cluster, args.roster)
    seconds = args.requests / args.rate
    cad_rate = args.cad_rate or max(args.incidents * 1.2 / seconds, 0.1)
    requests = asyncio.create_task(send_requests(cluster, args.requests, rate=args.rate))
    incidents = asyncio.create_task(send_incidents(cluster, roster, args.incidents, rate=cad_rate))
    contacts = asyncio.create_task(report_contacts(cluster, args.contacts, requests))
    workload = asyncio.ensure_future(asyncio.gather(requests, incidents, contacts))
    plan = ["kill"] * args.kills + ["nats"] * args.nats_restarts
    rng.shuffle(plan)
    gap = max(seconds, args.incidents * 1.2 / cad_rate) / (len(plan) + 1)
    while not workload.done():
        await asyncio.wait([workload], timeout=rng.uniform(0.5, 1.5) * gap)
        await asyncio.to_thread(cluster.keep_alive)
        if plan and not workload.done():
            what = plan.pop()
            if what == "kill":
                console.log(f"kill -9 {cluster.kill_random(rng)}")
            else:
                console.log(await asyncio.to_thread(cluster.restart_nats))
    for what in plan:  # the workload ended first: finish the plan anyway
        if what == "kill":
            console.log(f"kill -9 {cluster.kill_random(rng)}")
        else:
            console.log(await asyncio.to_thread(cluster.restart_nats))
        await asyncio.to_thread(cluster.keep_alive)
        await asyncio.sleep(0.5)
    await asyncio.to_thread(cluster.keep_alive)
    cluster.accepted, cluster.cad, cluster.contacts = workload.result()  # type: ignore[attr-defined]


def policy_file(workdir: Path, followups: str) -> Path:
    """Wellness policy for the run: follow-ups due seconds after the first contact; no peer is taken out
    of rotation for the number of contacts the workload makes them report."""
    path = workdir / "wellness-policy.json"
    default = {"followup_after": followups.split(","), "followup_grace": "PT1H", "max_contacts_7d": 1_000_000}
    path.write_text(json.dumps({"default": default}))
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # `kill` ends the run like Ctrl-C: the services and nats-server it started are stopped, not orphaned
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="peerline-chaos-"))
    env = {"PEERLINE_POLICY_FILE": str(policy_file(workdir, args.followups))}
    cluster = Cluster(workdir, env=env, nats_nodes=3 if args.cluster else 1)
    cluster.supervisor.backoff_s = 0.2
    if args.cluster:
        cluster.start_within = 90.0  # seven services joining a cluster that is still electing leaders
    started = time.monotonic()
    try:
        cluster.start()
        asyncio.run(chaos(cluster, args, console))
        accepted = cluster.accepted.cases  # type: ignore[attr-defined]
        cad: CadAccepted = cluster.cad  # type: ignore[attr-defined]
        contacts: Contacts = cluster.contacts  # type: ignore[attr-defined]
        log = asyncio.run(settled(cluster.server.url, accepted, args.settle, cad.incidents))
        violations = case_violations(log, accepted)
        violations += incident_violations(log, cad.incidents)
        violations += followup_violations(log)
        consumers = [c.durable for c in all_consumers()]
        for _ in range(3):  # stop the services with every view caught up, so each can be compared
            busy = asyncio.run(lagging(cluster.server.url, consumers, args.settle))
            cluster.supervisor.stop()
            # a service may have appended while the others stopped (wellness's load sweep, say): if
            # anything is left unapplied, let them apply it and stop them again
            if busy or asyncio.run(lagging(cluster.server.url, consumers, 0)):
                break
            cluster.supervisor.start()
        violations += [f"never caught up: {b}" for b in busy]
        digests, checked = asyncio.run(digest_violations(cluster.server.url, workdir, cluster.env))
        violations += digests
    finally:
        cluster.stop()
    table = Table(title=f"chaos run ({time.monotonic() - started:.0f}s, work dir {workdir})")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("requests accepted (201)", f"{len(accepted):,} of {args.requests:,}")
    table.add_row("refusals / no answer while things broke", str(cluster.accepted.refused))  # type: ignore[attr-defined]
    table.add_row("CAD incidents accepted (2xx)", f"{len(cad.incidents):,} of {args.incidents:,}")
    table.add_row("CAD updates resent and accepted", f"{cad.updates:,}")
    table.add_row("CAD refusals / no answer", str(cad.refused))
    table.add_row("critical incidents reported in the log", f"{sum(log.reports.values()):,}")
    table.add_row(
        "debrief offers (people involved)",
        f"{sum(log.offers.values()):,} ({sum(len(p) for p in log.involved.values()):,})",
    )
    table.add_row(
        "contacts reported (refusals / given up)",
        f"{len(contacts.logged):,} ({contacts.refused} / {contacts.given_up})",
    )
    fired = sum(log.fired.values())
    table.add_row(
        "follow-ups scheduled / due / fired", f"{len(log.followups):,} / {len(log.due()):,} / {fired:,}"
    )
    table.add_row("kill -9", f"{len(cluster.kills)} ({', '.join(sorted(set(cluster.kills)))})")
    if isinstance(cluster.server, NatsCluster):
        nodes = cluster.server.kills
        table.add_row("kill -9 of a NATS node", f"{len(nodes)} ({', '.join(nodes)})")
    else:
        table.add_row("nats-server restarts", str(cluster.nats_restarts))
    table.add_row("events in the log", f"{log.total:,}")
    table.add_row("projections compared with a fresh replay", str(checked))
    table.add_row("invariant violations", str(len(violations)))
    console.print(table)
    for v in violations[:50]:
        console.print(f"[red]VIOLATION[/red] {v}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
