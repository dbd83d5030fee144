"""Benchmark: matching's assignments per second and support_requested → peer_assigned latency, printed
beside the raw JetStream publish → consume round trip and durable-consume rate measured in the same run.

    python -m bench.matching [--requests 3000] [--seconds 8] [--raw 20000]

Starts a private nats-server (sync_interval: always, like the log) and one matching process with the
demo region's peers, then:
  1. raw durable consume: `--raw` messages consumed by a durable pull consumer (fetch 1000, ack each);
  2. max rate: `--requests` support_requested events published at once, until the last peer_assigned;
  3. latency at half the max rate: requests paced at max/2 for `--seconds`; and the raw publish →
     consume round trip paced at the same rate. Targets: matching p99 ≤ 5× raw p99; max rate ≥ 0.25×
     raw durable consume. Writes bench/results/<time>-matching.json.
Also printed, for context: the raw publish rate awaiting each ack (every assignment is one such
durable write). BENCH_PROFILE="-m cProfile -o /tmp/matching.prof" profiles the matching process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from bench.timing import pct
from shared.auth import generate_dev_keys
from shared.contracts.intake import Preferences, SupportRequested
from shared.envelope import Envelope, new_id
from shared.eventstore import headers_for
from shared.seed import AGENCIES, seed
from shared.topology import provision
from tests.support.bus import connect, start_server
from tests.support.bus import seed as seed_file

RAW_STREAM = "BENCH_RAW"
RESULTS = Path(__file__).resolve().parent / "results"


def request(n: int) -> Envelope:
    agency = list(AGENCIES)[n % 3]
    scope = ("own", "own", "any")[n % 3]
    payload = SupportRequested(
        activation="self",
        member_ref=new_id("m"),
        token_hash="0" * 64,
        preferences=Preferences(agency_scope=scope),
    )
    return Envelope.wrap(payload, agency=agency, subject=new_id("c"), source="bench")


class Arrivals:
    """When each case's peer_assigned was seen (a core subscription: no consumer in between)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.event = asyncio.Event()
        self.want = 0

    async def on_msg(self, msg: Msg) -> None:
        self.seen.setdefault(msg.subject.split(".")[3], time.perf_counter())
        if len(self.seen) >= self.want:
            self.event.set()

    async def wait_for(self, total: int, timeout: float) -> None:
        self.want = total
        if len(self.seen) < total:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), timeout)


async def publish_request(js: JetStreamContext, env: Envelope, sent: dict[str, float]) -> None:
    sent[env.subject] = time.perf_counter()
    await js.publish(env.nats_subject, env.to_bytes(), headers=headers_for(env))


async def paced(rate: float, seconds: float, send: Callable[[int], Awaitable[None]]) -> None:
    """Open loop: message i leaves at start + i / rate whatever happened to earlier ones."""
    start, tasks = time.perf_counter(), []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)


async def raw_durable_consume(js: JetStreamContext, n: int) -> float:
    body = b"x" * 300
    for start in range(0, n, 1000):
        await asyncio.gather(*(js.publish("bench.consume", body) for _ in range(min(1000, n - start))))
    await js.add_consumer(
        RAW_STREAM,
        ConsumerConfig(
            durable_name="bench-raw",
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject="bench.consume",
            max_ack_pending=20000,
        ),
    )
    sub = await js.pull_subscribe_bind("bench-raw", stream=RAW_STREAM)
    got, t0 = 0, time.perf_counter()
    while got < n:
        for m in await sub.fetch(1000, timeout=5):
            await m.ack()
            got += 1
    rate = n / (time.perf_counter() - t0)
    await sub.unsubscribe()
    return rate


async def raw_publish_rate(js: JetStreamContext, n: int) -> float:
    """Publishes awaiting each ack, 64 in flight: the write path every assignment takes."""
    body, t0 = b"x" * 600, time.perf_counter()
    for start in range(0, n, 64):
        await asyncio.gather(*(js.publish("bench.publish", body) for _ in range(min(64, n - start))))
    return n / (time.perf_counter() - t0)


async def raw_round_trip(nc: Client, js: JetStreamContext, rate: float, seconds: float) -> list[float]:
    sent: dict[int, float] = {}
    rtts: list[float] = []

    async def on_msg(msg: Msg) -> None:
        rtts.append(time.perf_counter() - sent[int(msg.data[:12])])
        await msg.ack()

    sub = await js.subscribe("bench.rtt", stream=RAW_STREAM, cb=on_msg, manual_ack=True)

    async def send(i: int) -> None:
        sent[i] = time.perf_counter()
        await js.publish("bench.rtt", b"%012d" % i + b"x" * 288)

    await paced(rate, seconds, send)
    for _ in range(100):
        if len(rtts) >= len(sent):
            break
        await asyncio.sleep(0.05)
    await sub.unsubscribe()
    return rtts


def start_matching(url: str, work: Path) -> subprocess.Popen[bytes]:
    _, public = generate_dev_keys(work / "keys")
    env = dict(os.environ)
    env.update(
        {
            "PEERLINE_NATS_URL": url,
            "PEERLINE_NATS_SEED_FILE": str(seed_file(url, "matching")),
            "PEERLINE_VAR_DIR": str(work / "var"),
            "PEERLINE_JWT_PUBLIC_KEY_FILE": str(public),
            "PEERLINE_HTTP_PORT": "0",
            "PEERLINE_METRICS_PORT": "0",
            "PEERLINE_LOG_LEVEL": "WARNING",
        }
    )
    log = open(work / "matching.log", "ab")
    return subprocess.Popen(
        [sys.executable, *os.environ.get("BENCH_PROFILE", "").split(), "-m", "services.matching"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def measure(requests: int, seconds: float, raw_n: int, work: Path, rate: float = 0.0) -> dict[str, Any]:
    server = start_server(work / "nats")
    nc = await connect(server.url)
    js = nc.jetstream()
    child: subprocess.Popen[bytes] | None = None
    try:
        await provision(js)
        await seed(js)
        await js.add_stream(StreamConfig(name=RAW_STREAM, subjects=["bench.>"], storage=StorageType.FILE))
        raw_rate = await raw_durable_consume(js, raw_n)
        publish_rate = await raw_publish_rate(js, 3000)

        arrivals = Arrivals()
        await nc.subscribe("ev.*.case.*.peer_assigned", cb=arrivals.on_msg)
        child = start_matching(server.url, work)
        sent: dict[str, float] = {}
        await publish_request(js, request(0), sent)  # warm-up: matching is up once this one is assigned
        await arrivals.wait_for(1, timeout=60)

        burst = [request(n) for n in range(requests)]
        t0 = time.perf_counter()
        for start in range(0, requests, 500):
            await asyncio.gather(*(publish_request(js, e, sent) for e in burst[start : start + 500]))
        await arrivals.wait_for(1 + requests, timeout=120)
        max_rate = requests / (max(arrivals.seen[e.subject] for e in burst) - t0)

        half = rate or max_rate / 2
        paced_envs = [request(n) for n in range(int(half * seconds))]
        await paced(half, seconds, lambda i: publish_request(js, paced_envs[i], sent))
        await arrivals.wait_for(1 + requests + len(paced_envs), timeout=60)
        latencies = [arrivals.seen[e.subject] - sent[e.subject] for e in paced_envs]
        rtts = await raw_round_trip(nc, js, half, seconds)
    finally:
        if child is not None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=20)
        await nc.close()
        server.stop()
    ms = 1000.0
    return {
        "requests": requests,
        "paced_seconds": seconds,
        "raw_durable_consume_per_s": round(raw_rate),
        "raw_publish_acked_per_s": round(publish_rate),
        "assignments_per_s": round(max_rate),
        "half_rate_per_s": round(half),
        "latency_ms": {
            "p50": pct(latencies, 0.5) * ms,
            "p99": pct(latencies, 0.99) * ms,
            "mean": statistics.fmean(latencies) * ms,
        },
        "raw_round_trip_ms": {"p50": pct(rtts, 0.5) * ms, "p99": pct(rtts, 0.99) * ms},
        "p99_ratio": pct(latencies, 0.99) / pct(rtts, 0.99),
        "throughput_ratio": max_rate / raw_rate,
    }


def report(r: dict[str, Any]) -> None:
    lat, raw = r["latency_ms"], r["raw_round_trip_ms"]
    p99_ok = r["p99_ratio"] <= 5.0
    tput_ok = r["throughput_ratio"] >= 0.25
    print("matching benchmark (one matching process, 30 demo peers, 3 agencies)")
    print(f"  raw durable consume            {r['raw_durable_consume_per_s']:>9,} msg/s")
    print(f"  raw publish, acked (64 in flight) {r['raw_publish_acked_per_s']:>6,} msg/s")
    burst = f"({r['requests']} at once)"
    print(f"  matching, max rate             {r['assignments_per_s']:>9,} assignments/s {burst}")
    print(
        f"  paced at {r['half_rate_per_s']:,}/s for {r['paced_seconds']:g}s (half the max rate unless --rate)"
    )
    print(f"    support_requested→peer_assigned  p50 {lat['p50']:7.2f} ms   p99 {lat['p99']:7.2f} ms")
    print(f"    raw publish→consume round trip   p50 {raw['p50']:7.2f} ms   p99 {raw['p99']:7.2f} ms")
    print(f"  p99 ratio        {r['p99_ratio']:6.2f}×  (target ≤ 5×)     {'met' if p99_ok else 'MISSED'}")
    verdict = "met" if tput_ok else "MISSED"
    print(f"  throughput ratio {r['throughput_ratio']:6.2f}×  (target ≥ 0.25×)  {verdict}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="bench.matching", description=__doc__.split("\n")[0] if __doc__ else ""
    )
    parser.add_argument("--requests", type=int, default=3000, help="burst size for the max rate")
    parser.add_argument("--seconds", type=float, default=8.0, help="paced run length at half the max rate")
    parser.add_argument("--raw", type=int, default=20000, help="messages for the raw durable-consume rate")
    parser.add_argument("--rate", type=float, default=0.0, help="paced rate instead of half the max rate")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="peerline-bench-") as tmp:
        result = asyncio.run(measure(args.requests, args.seconds, args.raw, Path(tmp), args.rate))
    report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{time.strftime('%Y%m%dT%H%M%S')}-matching.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"  written to {out.relative_to(RESULTS.parent.parent)}")
    return result


if __name__ == "__main__":
    main()
