"""Resident memory of each service after catching up with a small vs a large history.

For each size: a private nats-server, the streams and consumers provisioned and the demo region seeded,
then a realistic regional history (bench.tracking.history: support_requested, peer_assigned,
assignment_accepted, contact_logged, follow-ups, debrief offers, critical incidents) published with
publish_async in windows, with the headers the EventStore would send. Then every service is started as
its own process (shared.runtime Child/Supervisor, as in bench/chaos/cluster.py), each catches up from the
start of the log; once every ops /healthz answers 200 and every durable consumer is quiet (nothing
pending or unacked, and the log stopped growing), VmRSS is read from /proc/<pid>/status.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.tracking import history
from shared.envelope import STREAM
from shared.runtime import SERVICES
from shared.seed import seed
from shared.topology import all_consumers, provision
from tests.support.bus import connect, start_server
from tests.support.cluster import Cluster


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def load_history(js: object, n_events: int, window: int = 2000) -> int:
    pending: list[object] = []
    count = 0
    for subject, data in history(n_events):
        env = json.loads(data)
        headers = {"Nats-Msg-Id": env["id"], "Ce-Type": env["type"]}
        pending.append(await js.publish_async(subject, data, headers=headers))  # type: ignore[attr-defined]
        count += 1
        if len(pending) >= window:
            await asyncio.gather(*pending)  # type: ignore[arg-type]
            pending = []
    await asyncio.gather(*pending)  # type: ignore[arg-type]
    return count


async def _bootstrap(url: str, n_events: int) -> int:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        await provision(js)
        await seed(js)
        return await load_history(js, n_events)
    finally:
        await nc.close()


async def _quiet(url: str, within: float, settle: float = 2.0) -> float:
    """Wait until no durable consumer has pending or unacked events and the log stopped growing for
    `settle` seconds; returns the seconds it took."""
    t0 = time.monotonic()
    durables = [c.durable for c in all_consumers()]
    nc = await connect(url)
    try:
        js = nc.jetstream()
        last, quiet_since = -1, None
        while time.monotonic() - t0 < within:
            busy = False
            for durable in durables:
                info = await js.consumer_info(STREAM, durable)
                if info.num_pending or info.num_ack_pending:
                    busy = True
                    break
            seq = (await js.stream_info(STREAM)).state.last_seq
            if busy or seq != last:
                last, quiet_since = seq, None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return time.monotonic() - t0
            await asyncio.sleep(0.5)
    finally:
        await nc.close()
    raise TimeoutError(f"consumers not quiet within {within:g}s")


@dataclass
class Sample:
    events: int
    rss_mib: dict[str, float] = field(default_factory=dict)
    healthy_s: float = 0.0
    catch_up_s: float = 0.0
    log_last_seq: int = 0


async def sample(workdir: Path, n_events: int, within: float | None = None) -> Sample:
    """One size: start everything, load the history, start the services, wait, read VmRSS."""
    within = within or 120.0 + n_events / 100  # every service catching up on 2 shared cores
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    # The synthetic history is loaded without an fsync per event (the server flushes it when it stops),
    # then the server runs as deployed (sync_interval always) while the services catch up.
    server = start_server(workdir / "nats", sync_always=False)
    cluster: Cluster | None = None
    try:
        published = await _bootstrap(server.url, n_events)
        server.stop()
        server.sync_always = True
        server.start()
        # The synthetic history holds contacts but none of the follow-ups wellness would have fired over
        # those two years; left on, wellness would spend the catch-up firing ~2 per case (all overdue).
        policy = workdir / "wellness-policy.json"
        policy.write_text(json.dumps({"default": {"followup_after": []}}))
        env = {"PEERLINE_POLICY_FILE": str(policy)}
        cluster = Cluster(workdir, SERVICES, env, start_within=within, on=server, seeded=False)
        t0 = time.monotonic()
        await asyncio.to_thread(cluster.start)  # every service ready: connected, bound, caught up
        healthy_s = round(time.monotonic() - t0, 1)
        await _quiet(server.url, max(1.0, within - (time.monotonic() - t0)))
        out = Sample(published, healthy_s=healthy_s, catch_up_s=round(time.monotonic() - t0, 1))
        for c in cluster.supervisor.children:
            if c.proc is None or c.proc.poll() is not None:
                raise RuntimeError(f"{c.name} exited (see {c.log_path})")
            out.rss_mib[c.name] = round(vm_rss_kib(c.proc.pid) / 1024, 1)
        nc = await connect(server.url)
        try:
            out.log_last_seq = (await nc.jetstream().stream_info(STREAM)).state.last_seq
        finally:
            await nc.close()
        return out
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
        server.stop()


async def measure(tmp: Path, small: int, large: int) -> tuple[Sample, Sample]:
    return await sample(tmp / "small", small), await sample(tmp / "large", large)
