"""CAD incident → every debrief offer emitted: latency (p50/p99) and incidents per second, with wellness
running as its own process, beside raw JetStream figures measured in the same run on the same server.

    python -m bench.wellness [--incidents 400] [--people 8] [--rate 20] [--out bench/results]

Or from another benchmark: `await measure(nats_url, work_dir, incidents=…, people=…, rate=…)` returns a
dict of figures (the stream and consumers must be provisioned; `measure` does it, idempotently).

- latency: incidents offered at `rate`/s; each sample runs from just before the CAD event's publish to
  the moment the last offer of that incident reaches a subscriber;
- throughput: `incidents` published at once; incidents whose every offer arrived, per second;
- raw: the same shape without wellness — one publish, a JetStream push consumer that acks it and
  publishes `people` events, a subscriber seeing the last — p50/p99 at the same rate, and rate at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.timing import pct
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, Involved
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from shared.topology import provision
from tests.support.bus import connect, start_server
from tests.support.cluster import Cluster

AGENCY = "bench-fire"
OFFERS = "ev.*.debrief.*.debrief_offered"
LATENCY_S = 20  # paced seconds: enough samples that p99 is not just the one slowest incident


def incident(run: str, n: int, people: int) -> Envelope:
    crew = tuple(
        Involved(member_ref=f"m-{run}-{n}-{k}", agency=AGENCY, role="dispatcher" if k == 0 else "responder")
        for k in range(people)
    )
    cad = CriticalIncidentReported(
        incident_type="line of duty death",
        priority=1,
        agencies=(AGENCY,),
        flags=IncidentFlags(line_of_duty_death=True),
        involved=crew,
    )
    return Envelope.wrap(cad, agency=AGENCY, subject=f"i-{run}-{n}", source="peerline/bench")


class Arrivals:
    """Counts offers per incident as they reach a plain subscriber; notes when an incident is complete."""

    def __init__(self, people: int) -> None:
        self.people, self.seen, self.done = people, dict[str, int](), dict[str, float]()
        self.all_done = asyncio.Event()
        self.expect = 0

    async def on_msg(self, msg: Msg) -> None:
        incident_id = json.loads(msg.data)["data"]["incident_id"]
        self.seen[incident_id] = self.seen.get(incident_id, 0) + 1
        if self.seen[incident_id] == self.people:
            self.done[incident_id] = time.perf_counter()
            if len(self.done) >= self.expect:
                self.all_done.set()


async def paced(n: int, rate: float, send: Callable[[int], Awaitable[float]]) -> list[float]:
    """Call `send(i)` at `rate`/s without waiting for the previous; returns each call's start time."""
    starts: list[float] = [0.0] * n
    tasks = []
    t0 = time.perf_counter()
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(i: int = i) -> None:
            starts[i] = await send(i)

        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return starts


async def pipeline(nc: Client, incidents: int, people: int, rate: float, timeout: float) -> dict[str, float]:
    store = EventStore(nc.jetstream())
    out: dict[str, float] = {}
    for phase, n, r in (("latency", max(20, int(rate * LATENCY_S)), rate), ("throughput", incidents, 0.0)):
        run = uuid.uuid4().hex[:8]
        arrivals = Arrivals(people)
        arrivals.expect = n
        sub = await nc.subscribe(OFFERS, cb=arrivals.on_msg)
        envs = [incident(run, i, people) for i in range(n)]

        async def send(i: int, envs: list[Envelope] = envs) -> float:
            start = time.perf_counter()
            await store.append([envs[i]], expected=0)
            return start

        t0 = time.perf_counter()
        starts = await offer_load(n, r, send)
        await asyncio.wait_for(arrivals.all_done.wait(), timeout)
        await sub.unsubscribe()
        if phase == "latency":
            lat = [(arrivals.done[envs[i].subject] - starts[i]) * 1000 for i in range(n)]
            out.update(offer_p50_ms=pct(lat, 0.5), offer_p99_ms=pct(lat, 0.99), offer_max_ms=max(lat))
        else:
            out["incidents_per_s"] = n / (max(arrivals.done.values()) - t0)
    return out


async def raw_phase(
    nc: Client, n: int, people: int, rate: float, timeout: float
) -> tuple[list[float], float]:
    """One phase of the raw baseline: (per-incident latencies in ms, incidents per second)."""
    js = nc.jetstream()
    run = uuid.uuid4().hex[:8]
    got: dict[int, int] = {}
    done: dict[int, float] = {}
    finished = asyncio.Event()

    async def fan_out(msg: Msg) -> None:
        await msg.ack()
        i = int(msg.subject.split(".")[4])
        await asyncio.gather(
            *(js.publish(f"ev.bench.rawout.{run}.{i}.{k}", msg.data, stream=STREAM) for k in range(people))
        )

    async def arrive(msg: Msg) -> None:
        i = int(msg.subject.split(".")[4])
        got[i] = got.get(i, 0) + 1
        if got[i] == people:
            done[i] = time.perf_counter()
            if len(done) >= n:
                finished.set()

    watch = await nc.subscribe(f"ev.bench.rawout.{run}.>", cb=arrive)
    config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.EXPLICIT)
    consumer = await js.subscribe(f"ev.bench.rawin.{run}.*", stream=STREAM, cb=fan_out, config=config)
    payload = incident(run, 0, people).to_bytes()

    async def send(i: int) -> float:
        start = time.perf_counter()
        await js.publish(f"ev.bench.rawin.{run}.{i}", payload, stream=STREAM)
        return start

    t0 = time.perf_counter()
    starts = await offer_load(n, rate, send)
    await asyncio.wait_for(finished.wait(), timeout)
    await consumer.unsubscribe()
    await watch.unsubscribe()
    return [(done[i] - starts[i]) * 1000 for i in range(n)], n / (max(done.values()) - t0)


async def raw(nc: Client, incidents: int, people: int, rate: float, timeout: float) -> dict[str, float]:
    """The same shape on bare JetStream: publish → push consumer (ack, publish `people`) → subscriber."""
    lat, _ = await raw_phase(nc, max(20, int(rate * LATENCY_S)), people, rate, timeout)
    _, per_s = await raw_phase(nc, incidents, people, 0.0, timeout)
    return {"raw_p50_ms": pct(lat, 0.5), "raw_p99_ms": pct(lat, 0.99), "raw_incidents_per_s": per_s}


async def offer_load(n: int, rate: float, send: Callable[[int], Awaitable[float]]) -> list[float]:
    """At `rate`/s, or (rate 0) all at once in windows of 200; returns each send's start time."""
    if rate:
        return await paced(n, rate, send)
    starts: list[float] = []
    for k in range(0, n, 200):
        starts += await asyncio.gather(*(send(i) for i in range(k, min(n, k + 200))))
    return starts


async def measure(
    server: NatsServer,
    work: Path,
    *,
    incidents: int = 400,
    people: int = 8,
    rate: float = 20.0,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Every figure of this benchmark, as a dict (starts and stops its own wellness process)."""
    nc = await connect(server.url)
    await provision(nc.jetstream())
    alone = Cluster(work, ("wellness",), on=server, seeded=False)
    await asyncio.to_thread(alone.start)
    try:
        figures: dict[str, Any] = {"incidents": incidents, "people_per_incident": people, "rate_per_s": rate}
        figures.update(await raw(nc, incidents, people, rate, timeout))
        figures.update(await pipeline(nc, incidents, people, rate, timeout))
        figures["p99_vs_raw"] = figures["offer_p99_ms"] / figures["raw_p99_ms"]
        figures["rate_vs_raw"] = figures["incidents_per_s"] / figures["raw_incidents_per_s"]
        figures["offers_within_1s_at_p99"] = figures["offer_p99_ms"] < 1000
        return figures
    finally:
        await asyncio.to_thread(alone.stop)
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.wellness", description=__doc__)
    p.add_argument("--incidents", type=int, default=400, help="incidents for the throughput phase")
    p.add_argument("--people", type=int, default=8, help="crew and dispatchers on each incident")
    p.add_argument("--rate", type=float, default=20.0, help="offered incidents/s for the latency phase")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="peerline-bench-wellness-") as tmp:
        server = start_server(Path(tmp) / "nats")
        try:
            figures = asyncio.run(
                measure(server, Path(tmp), incidents=args.incidents, people=args.people, rate=args.rate)
            )
        finally:
            server.stop()
    for key, value in figures.items():
        print(f"{key:28} {value:.2f}" if isinstance(value, float) else f"{key:28} {value}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"wellness-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
