"""`python -m bench.escalation`: how fast escalation pages tier 1, beside the raw JetStream round trip.

One private nats-server; the escalation service runs as its own process, as in production, exporting its
spans over OTLP (tracing on, as `python -m bench` runs it: `traced`). Offered the
same paced load in the same run:
  raw        publish to the log → a push consumer's callback (nats-py, nothing else);
  risk flag  `contact_logged` with a risk flag → the reaction appends `escalation_triggered` (seen in the
             log) and pages `notify.<agency>.clinician` straight after the append (one hop): both timed.
Each sample is receive time minus the moment just before the publish call, in this process (whose own
garbage collector is held still while it times a path: `quiet_collector`). Also the
escalation process's CPU time per risk flag (user + system, from /proc), which a loaded machine
changes less than it changes latency.
Target: risk flag → page p99 ≤ 5 × raw p99. Writes bench/results/escalation-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.otlp import ENDPOINT, Sink
from shared.contracts.base import Event
from shared.contracts.escalation import DisclosurePolicyRecorded, Tier, TierNotification
from shared.contracts.intake import SupportRequested
from shared.contracts.tracking import ContactLogged
from shared.envelope import STREAM, Envelope
from shared.eventstore import headers_for
from shared.natsserver import NatsServer
from shared.topology import provision
from tests.support.bus import connect, start_server
from tests.support.cluster import Cluster

AGENCY = "bench-esc"
TARGET_RATIO = 5.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Latency:
    path: str
    sent: int
    received: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@contextmanager
def quiet_collector() -> Iterator[None]:
    """While this process times a path, its own garbage collector stays still: a full collection in
    here (~50 ms once per run, measured with gc.callbacks) would otherwise show as the system's latency.
    Each path, raw and Peerline's, is timed this way; the services run as they do in production."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def traced() -> AbstractContextManager[object]:
    """Tracing on, as `python -m bench` and a deployment run it: the service exports its spans (to a sink
    here) unless an endpoint is already set."""
    return nullcontext() if os.environ.get(ENDPOINT) else Sink().as_endpoint()


def summarise(path: str, sent: int, samples: list[float]) -> Latency:
    if not samples:
        return Latency(path, sent, 0, float("nan"), float("nan"), float("nan"))
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Latency(path, sent, len(samples), statistics.median(ordered), p99, ordered[-1])


def envelope(event: Event, subject: str) -> Envelope:
    return Envelope.wrap(event, agency=AGENCY, subject=subject, source="bench")


async def paced(nc: Client, envs: list[Envelope], rate: float, sent: dict[str, int]) -> None:
    """Publish at `rate`/s without awaiting acks in line; `sent[event id]` = ns just before publishing."""
    js = nc.jetstream()
    acks = []
    start = time.perf_counter()
    for i, env in enumerate(envs):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[env.id] = time.perf_counter_ns()
        acks.append(
            await js.publish_async(env.nats_subject, env.to_bytes(), stream=STREAM, headers=headers_for(env))
        )
    await asyncio.gather(*acks)


async def collect(done: asyncio.Event, settle_s: float = 15.0) -> None:
    try:
        await asyncio.wait_for(done.wait(), settle_s)
    except TimeoutError:
        pass  # reported as received < sent


async def raw_round_trip(nc: Client, n: int, rate: float) -> Latency:
    sent: dict[str, int] = {}
    samples: list[float] = []
    done = asyncio.Event()

    async def handle(msg: Msg) -> None:
        now = time.perf_counter_ns()
        event_id = (msg.headers or {})["Nats-Msg-Id"]
        samples.append((now - sent[event_id]) / 1e6)
        await msg.ack()
        if len(samples) >= n:
            done.set()

    config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.EXPLICIT)
    sub = await nc.jetstream().subscribe(
        f"ev.{AGENCY}.case.*.support_requested", stream=STREAM, cb=handle, manual_ack=True, config=config
    )
    envs = [
        envelope(SupportRequested(activation="self", member_ref="m-bench", token_hash="0" * 64), f"c-raw-{i}")
        for i in range(n)
    ]
    await paced(nc, envs, rate, sent)
    await collect(done)
    await sub.unsubscribe()
    return summarise("raw round trip", n, samples)


async def risk_flags(nc: Client, envs: list[Envelope], rate: float) -> tuple[Latency, Latency]:
    """Publish flagged contacts; each is matched to the `escalation_triggered` it causes (by causation id)
    and to the tier-1 page (by case id)."""
    sent: dict[str, int] = {}
    by_case = {env.subject: env.id for env in envs}
    stored: dict[str, float] = {}
    paged: dict[str, float] = {}
    done = asyncio.Event()

    def note(into: dict[str, float], origin: str, now: int) -> None:
        if origin in sent and origin not in into:
            into[origin] = (now - sent[origin]) / 1e6
            if len(stored) >= len(envs) and len(paged) >= len(envs):
                done.set()

    async def on_triggered(msg: Msg) -> None:
        now = time.perf_counter_ns()
        note(stored, Envelope.from_bytes(msg.data).causationid or "", now)

    async def on_page(msg: Msg) -> None:
        now = time.perf_counter_ns()
        note(paged, by_case.get(TierNotification.model_validate_json(msg.data).case_id, ""), now)

    subs = [
        await nc.subscribe(f"ev.{AGENCY}.escalation.*.escalation_triggered", cb=on_triggered),
        await nc.subscribe(f"notify.{AGENCY}.clinician", cb=on_page),
    ]
    await paced(nc, envs, rate, sent)
    await collect(done)
    for sub in subs:
        await sub.unsubscribe()
    n = len(envs)
    return (
        summarise("risk flag → escalation_triggered stored", n, list(stored.values())),
        summarise("risk flag → tier-1 page", n, list(paged.values())),
    )


def flagged(i: int) -> Envelope:
    event = ContactLogged(
        peer_ref="p-bench",
        week="2026-W48",
        mode="phone",
        categories=("other",),
        duration="under_15m",
        risk_flag=True,
    )
    return envelope(event, f"c-flag-{i}")


async def run(server: NatsServer, tmp: Path, n: int, rate: float) -> tuple[list[Latency], float]:
    """The three latencies, and the escalation process's CPU milliseconds per risk flag."""
    nc = await connect(server.url, stock=True)  # nats-py as shipped: the raw path's client, and the pager's
    try:
        js = nc.jetstream()
        await provision(js)
        policy = DisclosurePolicyRecorded(
            policy_version=1,
            jurisdiction="bench",
            disclosable=("imminent_self_harm",),
            chain=(Tier(role="clinician", ack_within_s=600),),
        )
        env = Envelope.wrap(policy, agency=AGENCY, subject="disclosure", source="bench")
        await js.publish(env.nats_subject, env.to_bytes(), stream=STREAM, headers=headers_for(env))
        alone = Cluster(tmp, ("escalation",), {"PEERLINE_LOG_LEVEL": "WARNING"}, on=server, seeded=False)
        await asyncio.to_thread(alone.start)
        try:
            await risk_flags(nc, [flagged(-i - 1) for i in range(20)], rate)  # warm-up
            with quiet_collector():
                raw = await raw_round_trip(nc, n, rate)
            proc = alone.child("escalation").proc
            assert proc is not None
            before = cpu_s(proc.pid)
            with quiet_collector():
                appended, flow = await risk_flags(nc, [flagged(i) for i in range(n)], rate)
            cpu_ms = (cpu_s(proc.pid) - before) * 1000 / n
        finally:
            await asyncio.to_thread(alone.stop)
        return [raw, appended, flow], cpu_ms
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.escalation", description=__doc__)
    p.add_argument("--events", type=int, default=600, help="events per path (default 600)")
    p.add_argument("--rate", type=float, default=200.0, help="offered events/s per path (default 200)")
    p.add_argument("--out", type=Path, default=Path("bench/results"), help="directory for the JSON result")
    args = p.parse_args(argv)
    if args.events <= 0 or args.rate <= 0:
        p.error("--events and --rate must be positive")
    with tempfile.TemporaryDirectory(prefix="peerline-bench-esc-") as tmp, traced():
        server = start_server(Path(tmp) / "nats")
        try:
            results, cpu_ms = asyncio.run(
                asyncio.wait_for(run(server, Path(tmp), args.events, args.rate), 300)
            )
        finally:
            server.stop()
    raw, appended, flow = results
    ratio = flow.p99_ms / raw.p99_ms if raw.p99_ms else float("inf")
    ok = ratio <= TARGET_RATIO and appended.received == appended.sent and flow.received == flow.sent
    for r in results:
        figures = f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  max {r.max_ms:7.2f} ms"
        print(f"{r.path:40s} sent {r.sent:5d} got {r.received:5d}  {figures}")
    print(f"escalation CPU per risk flag: {cpu_ms:.2f} ms (load average {os.getloadavg()[0]:.1f})")
    verdict = "ok" if ok else "MISSED"
    print(f"risk flag → page p99 / raw p99 = {ratio:.2f} (target ≤ {TARGET_RATIO}): {verdict}")
    report = {
        "time": datetime.now(UTC).isoformat(),
        "events": args.events,
        "rate": args.rate,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "latency": [asdict(r) for r in results],
        "escalation_cpu_ms_per_risk_flag": cpu_ms,
        "risk_flag_page_p99_over_raw_p99": ratio,
        "target_ratio": TARGET_RATIO,
        "ok": ok,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"escalation-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
