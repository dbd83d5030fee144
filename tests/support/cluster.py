"""A whole Peerline on loopback: nats-server and every service as its own process (e2e tests, fuzzing,
chaos runs)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from nats.js.errors import NotFoundError

from shared.auth import Role, generate_dev_keys, mint
from shared.envelope import STREAM, Envelope
from shared.natsserver import NatsServer, free_port
from shared.runtime import SERVICES, Child, Supervisor, service_env
from shared.seed import seed
from shared.topology import provision
from tests.support.bus import connect, seeds, start_server
from tests.support.natscluster import NatsCluster


def wait_healthy(ops_port: int, name: str, within: float) -> None:
    """Until a service's ops port answers /healthz with 200 (connected, caught up, serving)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{ops_port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not become healthy within {within:g}s")


@dataclass
class Cluster:
    workdir: Path
    server: NatsServer | NatsCluster = field(init=False)
    supervisor: Supervisor = field(default_factory=Supervisor)
    http: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    private_key: bytes = b""
    kills: list[str] = field(default_factory=list)
    nats_restarts: int = 0
    services: tuple[str, ...] = SERVICES
    env: dict[str, str] = field(default_factory=dict)  # extra settings for every service
    start_within: float = 30.0  # how long a service may take to become healthy
    nats_nodes: int = 1  # 3: a JetStream cluster with every stream at R3
    sites: tuple[str, ...] = ()  # agencies whose site (a leaf node) links to the region

    def start(self) -> None:
        self.start_nats()
        self.provision()
        self.start_services()

    def start_nats(self) -> None:
        """NATS: one server or a cluster (what a site links to)."""
        if self.nats_nodes > 1:
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
        self.wait_healthy("intake", self.start_within)

    async def _bootstrap(self) -> None:
        nc = await connect(self.server.url)
        await provision(nc.jetstream(), self.nats_nodes, self.sites)
        await seed(nc.jetstream())
        await nc.close()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http[service]}"

    def wait_healthy(self, service: str, within: float = 30.0) -> None:
        """Until the service's ops port says it is ready (connected, caught up, serving)."""
        wait_healthy(self.ops[service], service, within)

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
        """Stop whatever was started (safe after a failed start)."""
        self.supervisor.stop()
        if hasattr(self, "server"):
            self.server.stop()


async def _on_log(url: str, subject: str) -> list[Envelope]:
    nc = await connect(url)
    js, out, seq = nc.jetstream(), [], 1
    try:
        while True:
            try:
                msg = await js.get_msg(STREAM, seq=seq, subject=subject, next=True)
            except NotFoundError:
                return out
            out.append(Envelope.from_bytes(msg.data or b""))
            seq = (msg.seq or 0) + 1
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
