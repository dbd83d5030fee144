"""Peerline on loopback: nats-server and each service as its own process, for e2e tests, fuzzing, chaos
runs and the benchmarks. The one harness that starts processes: a test never starts one by hand.

Ready has one meaning: every service started answers /healthz on its ops port with 200 (connected, its
consumers bound) and every durable it consumes (`shared/consumers/<service>.py`) has nothing pending and
nothing unacknowledged: it has caught up with the log. `start()` and `restart()` return only then;
`start()` stops whatever it had started when it fails, and `with Cluster(...) as c:` stops it all at the
end.

    with Cluster(tmp_path, services=("intake", "matching")) as c:
        httpx.post(f"{c.url('intake')}/v1/requests", ...)
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
from nats.errors import Error as NatsError

from shared.auth import Role, generate_dev_keys, mint
from shared.buspolicy import durables
from shared.envelope import STREAM, Envelope
from shared.natsserver import NatsServer, free_port
from shared.runtime import SERVICES, Child, Supervisor, service_env
from shared.seed import seed
from shared.topology import provision
from tests.support.bus import connect, messages, seeds, start_server
from tests.support.natscluster import NatsCluster


def wait_healthy(ops_port: int, name: str, within: float, child: Child | None = None) -> None:
    """Until a service's ops port answers /healthz with 200 (connected, its consumers bound).
    Raises TimeoutError after `within` seconds, or at once when `child` has exited, quoting its log."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if child is not None and child.proc is not None and child.proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {child.proc.returncode}:\n{_tail(child)}")
        try:
            if httpx.get(f"http://127.0.0.1:{ops_port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not become healthy within {within:g}s:\n{_tail(child)}")


def _tail(child: Child | None) -> str:
    if child is None or not child.log_path.exists():
        return ""
    return child.log_path.read_text(errors="replace")[-2000:]


@dataclass
class Cluster:
    workdir: Path
    services: tuple[str, ...] = SERVICES
    env: dict[str, str] = field(default_factory=dict)  # extra settings for every service
    start_within: float = 120.0  # how long all may take to become ready (on a busy machine)
    on: NatsServer | None = None  # a running server to use; by default one is started (and stopped)
    seeded: bool = True  # the demo region (policies, peers) on the log before the services start
    nats_nodes: int = 1  # 3: a JetStream cluster with every stream at R3
    sites: tuple[str, ...] = ()  # agencies whose site (a leaf node) links to the region
    supervisor: Supervisor = field(default_factory=Supervisor)
    http: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    private_key: bytes = b""
    kills: list[str] = field(default_factory=list)
    nats_restarts: int = 0
    server: NatsServer | NatsCluster = field(init=False)

    def start(self) -> Cluster:
        """Start NATS (unless given), provision it, start each service and wait until every one is
        ready. After a failure nothing started here is left running."""
        try:
            self.start_nats()
            self.provision()
            self.start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def start_nats(self) -> None:
        """NATS: the server given, one server, or a cluster (what a site links to)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.on is not None:
            self.server = self.on
        elif self.nats_nodes > 1:
            self.server = NatsCluster(self.workdir / "nats", self.nats_nodes, sites=self.sites).start()
        else:
            leaf_port = free_port() if self.sites else None
            self.server = start_server(self.workdir / "nats", sites=self.sites, leaf_port=leaf_port)

    def provision(self) -> None:
        """Streams (at R3 on a cluster; the CAD inbox sourcing each site) and consumers; demo peers."""
        asyncio.run(self._bootstrap())

    def start_services(self) -> None:
        private, public = generate_dev_keys(self.workdir / "keys")
        self.private_key = private.read_bytes()
        for name in self.services:
            env = service_env(
                name,
                nats_url=self.server.url,
                var_dir=self.workdir,
                public_key=public,
                seeds=seeds(self.server.url),
            )
            self.http[name], self.ops[name] = free_port(), free_port()
            env.update(PEERLINE_HTTP_PORT=str(self.http[name]), PEERLINE_METRICS_PORT=str(self.ops[name]))
            env.update(PEERLINE_RATE_PER_MINUTE="600000", PEERLINE_RATE_BURST="10000")  # load, not abuse
            env.update(self.env)
            self.supervisor.children.append(Child(name, env, self.workdir / f"{name}.log"))
        self.supervisor.start()
        self.wait_ready(*self.services)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _bootstrap(self) -> None:
        nc = await connect(self.server.url)
        await provision(nc.jetstream(), self.nats_nodes, self.sites)
        if self.seeded:
            await seed(nc.jetstream())
        await nc.close()

    def child(self, service: str) -> Child:
        return next(c for c in self.supervisor.children if c.name == service)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http[service]}"

    def wait_ready(self, *services: str) -> None:
        """Until each service is healthy and every durable it consumes has caught up with the log."""
        deadline = time.monotonic() + self.start_within
        for name in services:
            self.wait_healthy(name, max(1.0, deadline - time.monotonic()))
        consumed = [d for name in services for d in durables().get(name, ())]
        behind = asyncio.run(lagging(self.server.url, consumed, max(0.0, deadline - time.monotonic())))
        if behind:
            raise TimeoutError("not caught up with the log: " + "; ".join(behind))

    def wait_healthy(self, service: str, within: float = 90.0) -> None:
        """Until the service's ops port says it is ready (connected, consumers bound, caught up)."""
        wait_healthy(self.ops[service], service, within, self.child(service))

    def token(self, role: Role, agency: str, sub: str | None = None) -> str:
        return mint(self.private_key, role=role, agency=agency, sub=sub)

    def kill_random(self, rng: random.Random) -> str:
        alive = [c for c in self.supervisor.children if c.proc is not None and c.proc.poll() is None]
        victim = rng.choice(alive)
        assert victim.proc is not None
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait()
        self.kills.append(victim.name)
        return victim.name

    def exit_codes(self) -> dict[str, int | None]:
        """How each service process ended (None: still running or never started)."""
        return {c.name: c.proc.poll() if c.proc else None for c in self.supervisor.children}

    def logs(self) -> str:
        """The end of each service's log: what a failed assertion on the processes should show."""
        return "\n".join(f"--- {c.name}\n{_tail(c)}" for c in self.supervisor.children)

    def kill(self, service: str) -> None:
        """SIGKILL one service: no clean-up of any kind."""
        proc = self.child(service).proc
        assert proc is not None
        proc.kill()
        proc.wait()
        self.kills.append(service)

    def restart(self, service: str) -> None:
        """Start a stopped or killed service again and wait until it is ready."""
        self.child(service).start()
        self.wait_ready(service)

    @property
    def leaf_urls(self) -> tuple[str, ...]:
        if isinstance(self.server, NatsCluster):
            return self.server.leaf_urls
        return (f"nats-leaf://127.0.0.1:{self.server.leaf_port}",) if self.server.leaf_port else ()

    def restart_nats(self) -> str:
        """One server restarts; on a cluster, one node is killed with -9 (every other time the log's
        leader) and comes back once the others serve without it. Returns what was done."""
        self.nats_restarts += 1
        if not isinstance(self.server, NatsCluster):
            self.server.restart()
            return "restarted nats-server"
        leader = asyncio.run(self.server.leader(STREAM))
        others = [n.server_name for n in self.server.nodes if n.server_name != leader]
        victim = leader if self.nats_restarts % 2 else others[self.nats_restarts % len(others)]
        self.server.kill(victim, " (leader)" if victim == leader else "")
        self.server.wait_failover(STREAM, victim)  # the two left serve the log without it
        self.server.revive(victim)
        self.server.wait_ready((STREAM,))  # back, and the log's replicas current again
        return f"kill -9 nats node {victim}" + (" (the log's leader)" if victim == leader else "")

    def keep_alive(self) -> list[str]:
        return self.supervisor.watch_once()

    def stop(self) -> None:
        """Stop whatever was started here (safe after a failed start, and twice)."""
        self.supervisor.stop()
        if self.on is None and hasattr(self, "server"):
            self.server.stop()


async def lagging(url: str, consumed: Iterable[str], within: float) -> list[str]:
    """Ask until none of these durables has a message pending or unacknowledged, all at once, or until
    `within` seconds have passed. Returns the ones still behind, each with why (empty: all caught up). A
    durable whose server does not answer (a node just killed, a cluster electing) counts as behind."""
    nc = await connect(url)
    js, deadline = nc.jetstream(), time.monotonic() + within
    try:
        while True:
            behind = []
            for durable in consumed:
                try:
                    info = await js.consumer_info(STREAM, durable)
                except (NatsError, TimeoutError) as exc:
                    behind.append(f"{durable}: no answer ({type(exc).__name__})")
                    continue
                if info.num_pending or info.num_ack_pending:
                    behind.append(
                        f"{durable}: {info.num_pending} pending, {info.num_ack_pending} unacknowledged"
                    )
            if not behind or time.monotonic() > deadline:
                return behind
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def _on_log(url: str, subject: str) -> list[Envelope]:
    nc = await connect(url)
    try:
        return [Envelope.from_bytes(m.data or b"") for m in await messages(nc.jetstream(), STREAM, subject)]
    finally:
        await nc.close()


def events(cluster: Cluster, subject: str, until: int = 1, within: float = 20.0) -> list[Envelope]:
    """The events on the log under `subject` once there are at least `until` (or `within` seconds pass)."""
    deadline = time.monotonic() + within
    while True:
        found = asyncio.run(_on_log(cluster.server.url, subject))
        if len(found) >= until or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
