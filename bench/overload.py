"""`python -m bench.overload`: intake at twice its measured capacity sheds load (429/503) instead of
accepting what it cannot keep; every request it accepted (201) is in the log and settles; latency recovers.

nats-server, intake and matching run as their own processes (bench.chaos.cluster.Cluster). Capacity is
requests/s fully settled (support_requested → peer_assigned or request_unmatched) under a closed loop;
the burst is an open loop at 2 × capacity (each request sent once, no retry); latency is POST → settled
as seen on the log, in the burst and after a pause, at half the capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.msg import Msg
from rich.console import Console
from rich.table import Table

from bench.chaos.cluster import Cluster
from shared.envelope import STREAM, Envelope
from shared.seed import AGENCIES
from tests.support.bus import connect

SETTLED = {"peer_assigned", "request_unmatched"}


@dataclass
class Watch:
    """The case events as they reach the log, stamped on arrival (same clock as the client's)."""

    requested: set[str] = field(default_factory=set)
    settled_at: dict[str, float] = field(default_factory=dict)

    async def take(self, msg: Msg) -> None:
        env = Envelope.from_bytes(msg.data)
        if env.event_name == "support_requested":
            self.requested.add(env.subject)
        elif env.event_name in SETTLED:
            self.settled_at.setdefault(env.subject, time.monotonic())


@dataclass
class Phase:
    sent: dict[str, float] = field(default_factory=dict)  # case_id -> when its POST went out
    codes: Counter[int] = field(default_factory=Counter)  # status (0 = no answer) -> count
    errors: Counter[str] = field(default_factory=Counter)  # why there was no answer
    offered: int = 0
    seconds: float = 0.0


class Client:
    """A lean keep-alive HTTP/1.1 client (pre-built requests), so one process can offer 2 × what the
    services manage on the same cores; httpx spends more per request than intake does."""

    def __init__(self, cluster: Cluster) -> None:
        self.port = cluster.http["intake"]
        self.requests = [self._request(a, cluster.token("member", a)) for a in AGENCIES]
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.n = 0

    def _request(self, agency: str, token: str) -> bytes:
        body = json.dumps({"agency": agency, "activation": "self"}).encode()
        head = (
            f"POST /v1/requests HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        conn = self.idle.pop() if self.idle else await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = conn
        try:
            writer.write(request)
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if b"transfer-encoding: chunked" in head:
                body = b""
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    body += (await reader.readexactly(size + 2))[:-2]
                await reader.readuntil(b"\r\n")
            else:
                body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if b"connection: close" in head:
            writer.close()
        else:
            self.idle.append(conn)
        return int(head.split(b" ", 2)[1]), body

    async def post(self, phase: Phase) -> None:
        request = self.requests[self.n % len(self.requests)]
        self.n += 1
        phase.offered += 1
        sent = time.monotonic()
        try:
            status, body = await asyncio.wait_for(self._exchange(request), 30)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            phase.codes[0] += 1
            phase.errors[type(e).__name__] += 1
            return
        phase.codes[status] += 1
        if status == 201:
            phase.sent[json.loads(body)["case_id"]] = sent

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()
        self.idle.clear()


async def closed_loop(client: Client, seconds: float, workers: int) -> Phase:
    phase, end = Phase(), time.monotonic() + seconds
    started = time.monotonic()

    async def worker() -> None:
        while time.monotonic() < end:
            await client.post(phase)

    await asyncio.gather(*(worker() for _ in range(workers)))
    phase.seconds = time.monotonic() - started
    return phase


async def open_loop(client: Client, rate: float, seconds: float) -> Phase:
    """Send at `rate` on schedule whatever the answers: what a crowd does."""
    client.close()  # intake closes connections idle for 5 s: start each phase on fresh ones
    phase, started = Phase(), time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(client.post(phase)))
    phase.seconds = time.monotonic() - started
    await asyncio.gather(*tasks)
    return phase


async def drained(watch: Watch, cases: set[str], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cases <= watch.settled_at.keys():
            return True
        await asyncio.sleep(0.2)
    return cases <= watch.settled_at.keys()


def latency_ms(watch: Watch, phase: Phase) -> dict[str, float]:
    lat = sorted((watch.settled_at[c] - t) * 1000 for c, t in phase.sent.items() if c in watch.settled_at)
    if not lat:
        return {"p50": float("nan"), "p99": float("nan"), "n": 0}
    return {"p50": statistics.median(lat), "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "n": len(lat)}


async def measure(cluster: Cluster, args: argparse.Namespace, console: Console) -> dict[str, object]:
    watch = Watch()
    nc = await connect(cluster.server.url)
    sub = await nc.jetstream().subscribe("ev.*.case.>", stream=STREAM, ordered_consumer=True, cb=watch.take)
    client = Client(cluster)
    try:
        await closed_loop(client, 1.0, 8)  # warm up connections and caches
        cap = await closed_loop(client, args.capacity_seconds, args.workers)
        started = time.monotonic() - cap.seconds
        await drained(watch, set(cap.sent), 30)
        last = max((watch.settled_at.get(c, time.monotonic()) for c in cap.sent), default=time.monotonic())
        capacity = len(cap.sent) / max(last - started, 1e-9)
        console.log(
            f"capacity ≈ {capacity:.0f} requests/s settled ({len(cap.sent)} in {last - started:.1f}s)"
        )
        before = await open_loop(client, capacity / 2, args.after_seconds)  # the reference latency
        await drained(watch, set(before.sent), 30)
        burst = await open_loop(client, 2 * capacity, args.burst_seconds)
        console.log(f"burst done: {dict(burst.codes)}; no answer: {dict(burst.errors)}")
        await asyncio.sleep(args.pause)
        after = await open_loop(client, capacity / 2, args.after_seconds)
        accepted = set(cap.sent) | set(before.sent) | set(burst.sent) | set(after.sent)
        complete = await drained(watch, accepted, args.settle)
    finally:
        client.close()
        await sub.unsubscribe()
        await nc.close()
    return {
        "capacity_per_s": capacity,
        "burst_target_per_s": 2 * capacity,
        "burst_offered_per_s": burst.offered / burst.seconds,
        "burst_codes": dict(burst.codes),
        "before_latency_ms": latency_ms(watch, before),
        "burst_latency_ms": latency_ms(watch, burst),
        "after_latency_ms": latency_ms(watch, after),
        "after_codes": dict(after.codes),
        "accepted": len(accepted),
        "missing_from_log": len(accepted - watch.requested),
        "never_settled": len(accepted - watch.settled_at.keys()),
        "all_settled": complete,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    p.add_argument("--capacity-seconds", type=float, default=8.0)
    p.add_argument("--workers", type=int, default=32, help="closed-loop clients measuring capacity")
    p.add_argument("--burst-seconds", type=float, default=10.0)
    p.add_argument("--pause", type=float, default=10.0, help="seconds after the burst before measuring again")
    p.add_argument("--after-seconds", type=float, default=5.0)
    p.add_argument("--max-inflight", type=int, default=0, help="intake's PEERLINE_MAX_INFLIGHT (0 = default)")
    p.add_argument("--settle", type=float, default=30.0)
    return p.parse_args(argv)


def table(r: dict[str, object], seconds: float) -> Table:
    t = Table(title=f"overload: intake at 2 × capacity ({seconds:.0f}s)")
    t.add_column("what")
    t.add_column("value", justify="right")
    codes: dict[int, int] = r["burst_codes"]  # type: ignore[assignment]
    burst: dict[str, float] = r["burst_latency_ms"]  # type: ignore[assignment]
    after: dict[str, float] = r["after_latency_ms"]  # type: ignore[assignment]
    before: dict[str, float] = r["before_latency_ms"]  # type: ignore[assignment]
    t.add_row("capacity (requests settled/s)", f"{r['capacity_per_s']:.0f}")
    t.add_row(
        "burst offered (requests/s): target / achieved",
        f"{r['burst_target_per_s']:.0f} / {r['burst_offered_per_s']:.0f}",
    )
    for code in sorted(codes):
        t.add_row(f"burst answers {code or 'none'}", f"{codes[code]:,}")
    t.add_row(
        "before, at ½ capacity: POST→settled p50 / p99 (ms)", f"{before['p50']:.0f} / {before['p99']:.0f}"
    )
    t.add_row("burst POST→settled p50 / p99 (ms)", f"{burst['p50']:.0f} / {burst['p99']:.0f}")
    t.add_row("10 s later, at ½ capacity: p50 / p99 (ms)", f"{after['p50']:.0f} / {after['p99']:.0f}")
    t.add_row("10 s later: answers", str(r["after_codes"]))
    t.add_row("accepted (201), all phases", f"{r['accepted']:,}")
    t.add_row("accepted but not in the log", str(r["missing_from_log"]))
    t.add_row("accepted but never settled", str(r["never_settled"]))
    return t


def run(argv: list[str] | None = None, console: Console | None = None) -> dict[str, object]:
    """The figures, for a caller (e.g. a stage of `python -m bench`); starts and stops its own cluster."""
    args = parse_args(argv)
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="peerline-overload-"))
    env = {"PEERLINE_MAX_INFLIGHT": str(args.max_inflight)} if args.max_inflight else {}
    cluster = Cluster(workdir, services=("intake", "matching"), env=env)
    started = time.monotonic()
    try:
        cluster.start()
        cluster.wait_healthy("matching")
        result = asyncio.run(measure(cluster, args, console))
    finally:
        cluster.stop()
    result["seconds"] = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> int:
    console = Console()
    result = run(argv, console)
    console.print(table(result, float(result["seconds"])))  # type: ignore[arg-type]
    return 0 if not result["missing_from_log"] and not result["never_settled"] else 1


if __name__ == "__main__":
    sys.exit(main())
