"""The whole pipeline as deployed: nats-server and every service as its own process, spans exported over
OTLP, driven through intake's HTTP API; raw JetStream baselines measured on the same server in the run.

- support requests fully assigned per second: closed-loop POST /v1/requests for `seconds` by `workers`
  clients (as many as the raw publishes in flight), counted until each accepted case's `peer_assigned`
  (or `request_unmatched`) is in the log; held against raw fsynced publishes on the same server;
- `support_requested` → settled (`peer_assigned`, or `request_unmatched` once the burst left every peer at
  capacity) p50/p99 at half that rate (open loop), both stamped as they reach an ordered consumer of the
  log; also POST → settled;
- CAD incidents → offers per second: `incidents` webhook documents (each naming 5 rostered people) POSTed
  to /v1/cad/incidents by a few clients; an incident counts once every person has a `debrief_offered`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from bench.chaos.cad import document, register_roster
from bench.chaos.cluster import Cluster
from bench.matching import RAW_STREAM, raw_durable_consume, raw_publish_rate, raw_round_trip
from bench.overload import Client, closed_loop, open_loop
from bench.timing import pct
from shared.envelope import STREAM, Envelope
from shared.seed import AGENCIES
from tests.support.bus import connect

CREW = 5  # people named by each bench.chaos.cad document
PUBLISHES = 5000  # raw fsynced publishes, 64 in flight: the baseline the request rate is held against


@dataclass
class LogWatch:
    """Case and debrief events as they reach the log, stamped on arrival."""

    requested: dict[str, float] = field(default_factory=dict)
    assigned: dict[str, float] = field(default_factory=dict)
    unmatched: dict[str, float] = field(default_factory=dict)
    offers: dict[str, list[float]] = field(default_factory=dict)  # incident id -> arrival of each offer
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def take(self, msg: Msg) -> None:
        now = time.monotonic()
        env = Envelope.from_bytes(msg.data)
        name = env.event_name
        if name == "support_requested":
            self.requested.setdefault(env.subject, now)
        elif name == "peer_assigned":
            self.assigned.setdefault(env.subject, now)
        elif name == "request_unmatched":
            self.unmatched.setdefault(env.subject, now)
        elif name == "debrief_offered":
            self.offers.setdefault(str(env.data["incident_id"]), []).append(now)
        self.changed.set()

    def settled(self, case: str) -> float | None:
        return self.assigned.get(case) or self.unmatched.get(case)

    async def until(self, done: Any, within: float) -> bool:
        deadline = time.monotonic() + within
        while not done() and (left := deadline - time.monotonic()) > 0:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return bool(done())


async def _requests(cluster: Cluster, watch: LogWatch, seconds: float, workers: int) -> dict[str, Any]:
    client = Client(cluster)
    try:
        await closed_loop(client, 1.0, 4)  # warm-up
        cap = await closed_loop(client, seconds, workers)
        started = time.monotonic() - cap.seconds
        await watch.until(lambda: all(watch.settled(c) for c in cap.sent), 60)
        ends = [watch.settled(c) or time.monotonic() for c in cap.sent]
        per_s = len(cap.sent) / max(max(ends, default=started) - started, 1e-9)
        half = await open_loop(client, per_s / 2, seconds)
        await watch.until(lambda: all(watch.settled(c) for c in half.sent), 60)
    finally:
        client.close()
    # settled as the rate counts it: assigned, or unmatched (the coordinator alerted) once the burst left
    # every peer at capacity
    paced = {c: at for c in half.sent if c in watch.requested and (at := watch.settled(c)) is not None}
    log_ms = [(at - watch.requested[c]) * 1000 for c, at in paced.items()]
    post_ms = [(at - half.sent[c]) * 1000 for c, at in paced.items()]
    accepted = set(cap.sent) | set(half.sent)
    return {
        "settled_per_s": per_s,
        "burst_answers": dict(cap.codes),
        "half_rate_per_s": per_s / 2,
        "requested_to_settled_ms": {"p50": pct(log_ms, 0.5), "p99": pct(log_ms, 0.99), "n": len(log_ms)},
        "post_to_settled_ms": {"p50": pct(post_ms, 0.5), "p99": pct(post_ms, 0.99)},
        "paced_assigned": sum(1 for c in paced if c in watch.assigned),
        "accepted": len(accepted),
        "assigned": sum(1 for c in accepted if c in watch.assigned),
        "unmatched": sum(1 for c in accepted if c in watch.unmatched),
        "never_settled": sum(1 for c in accepted if not watch.settled(c)),
    }


async def _incidents(cluster: Cluster, watch: LogWatch, n: int, clients: int) -> dict[str, Any]:
    roster = await register_roster(cluster, per_agency=20)
    agencies, rng = list(AGENCIES), random.Random(5)
    sent: dict[str, float] = {}  # incident ref -> when its POST went out
    refused: dict[int, int] = {}
    queue = list(range(n))
    started = time.monotonic()

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=cluster.url("intake"), timeout=30) as http:
            while queue:
                number = queue.pop()
                agency = agencies[number % len(agencies)]
                token = cluster.token("integration", agency)
                at = time.monotonic()
                r = await http.post(
                    "/v1/cad/incidents",
                    json=document(rng, 900_000 + number, roster[agency]),
                    headers={"Authorization": f"Bearer {token}"},
                )
                if r.status_code in (200, 201, 202):
                    sent[r.json()["incident_ref"]] = at
                else:
                    refused[r.status_code] = refused.get(r.status_code, 0) + 1

    await asyncio.gather(*(worker() for _ in range(clients)))

    def complete() -> bool:
        return all(len(watch.offers.get(i, ())) >= CREW for i in sent)

    await watch.until(complete, 60)
    done = {i: max(watch.offers[i]) for i in sent if len(watch.offers.get(i, ())) >= CREW}
    last = max(done.values(), default=started)
    lat = [(done[i] - sent[i]) * 1000 for i in done]
    return {
        "incidents_per_s": len(done) / max(last - started, 1e-9),
        "incidents": n,
        "accepted": len(sent),
        "refused": refused,
        "all_offered": len(done),
        "post_to_last_offer_ms": {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99)},
    }


async def measure(
    workdir: Path, *, seconds: float = 8.0, workers: int = 64, incidents: int = 300, raw_n: int = 20_000
) -> dict[str, Any]:
    # Peers are never taken out of rotation for their caseload here, so every request can be assigned.
    policy = workdir / "wellness-policy.json"
    policy.write_text(json.dumps({"default": {"max_active_cases": 100, "max_contacts_7d": 1_000_000}}))
    cluster = Cluster(workdir, env={"PEERLINE_POLICY_FILE": str(policy)})
    await asyncio.to_thread(cluster.start)
    try:
        for name in cluster.services:
            await asyncio.to_thread(cluster.wait_healthy, name, 60.0)
        nc = await connect(cluster.server.url)
        js = nc.jetstream()
        watch = LogWatch()
        subjects = ["ev.*.case.>", "ev.*.debrief.>"]
        sub = await js.subscribe(
            subjects[0],
            stream=STREAM,
            ordered_consumer=True,
            cb=watch.take,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW, filter_subjects=subjects),
        )
        try:
            await js.add_stream(StreamConfig(name=RAW_STREAM, subjects=["bench.>"], storage=StorageType.FILE))
            raw_rate = await raw_durable_consume(js, raw_n)
            publish_rate = await raw_publish_rate(js, PUBLISHES)
            requests = await _requests(cluster, watch, seconds, workers)
            rtts = await raw_round_trip(nc, js, requests["half_rate_per_s"], seconds)
            cad = await _incidents(cluster, watch, incidents, clients=4)
        finally:
            await sub.unsubscribe()
            await nc.close()
    finally:
        await asyncio.to_thread(cluster.stop)
    return {
        "raw_durable_consume_per_s": raw_rate,
        "raw_publish_per_s": publish_rate,
        "raw_round_trip_ms": {"p50": pct(rtts, 0.5) * 1000, "p99": pct(rtts, 0.99) * 1000},
        "raw_round_trip_mean_ms": statistics.fmean(rtts) * 1000 if rtts else float("nan"),
        "requests": requests,
        "cad": cad,
        "services": list(cluster.services),
    }
