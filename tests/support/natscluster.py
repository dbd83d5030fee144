"""Three nats-server processes in one JetStream cluster on loopback (chaos runs, the partition test).

Every node shares one set of identities (one seed directory), so a client connects as the same user to
any of them. `url` names all three, comma-separated, as a service's `PEERLINE_NATS_URL` may.
"Ready" has one meaning here: the JetStream meta leader is elected and every stream asked about has a
leader and all its replicas current.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from nats.errors import Error as NatsError
from nats.js.errors import Error as JsError

from shared.natsserver import NatsServer, free_port
from tests.support.bus import AGENCIES, connect, register


async def _quiet(exc: Exception) -> None:
    """A node being down is expected here: the client tries the next one."""


@dataclass
class NatsCluster:
    workdir: Path
    size: int = 3
    name: str = "peerline"
    sites: tuple[str, ...] = ()  # agencies whose site may link to the region (each node listens for leafs)
    nodes: list[NatsServer] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)  # node names killed with -9, in order

    def __post_init__(self) -> None:
        routes = tuple(free_port() for _ in range(self.size))
        for i, route in enumerate(routes):
            self.nodes.append(
                NatsServer(
                    self.workdir / f"n{i}",
                    server_name=f"n{i}",
                    cluster=(self.name, route, routes),
                    creds_dir=self.workdir / "creds",
                    agencies=AGENCIES,
                    harness=True,
                    sites=self.sites,
                    leaf_port=free_port() if self.sites else None,
                )
            )

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    @property
    def seeds(self) -> Path:
        return self.workdir / "creds"

    @property
    def leaf_urls(self) -> tuple[str, ...]:
        return tuple(f"nats-leaf://127.0.0.1:{n.leaf_port}" for n in self.nodes if n.leaf_port)

    def node(self, name: str) -> NatsServer:
        return next(n for n in self.nodes if n.server_name == name)

    def start(self, within: float = 30.0) -> NatsCluster:
        for n in self.nodes:
            n.start()
        register(self.url, self.seeds)
        self.wait_ready((), within)
        return self

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()

    def kill(self, name: str, note: str = "") -> None:
        """kill -9 one node (no clean shutdown: whatever it had not written is gone)."""
        node = self.node(name)
        assert node.proc is not None, f"{name} is not running"
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait()
        node.proc = None
        self.kills.append(f"{name}{note}")

    def revive(self, name: str) -> None:
        self.node(name).start()

    def wait_ready(self, streams: tuple[str, ...], within: float = 60.0) -> None:
        """Until the meta leader is elected and each of `streams` has a leader and every replica current."""
        asyncio.run(self._ready(streams, within, ""))

    def wait_failover(self, stream: str, gone: str, within: float = 60.0) -> None:
        """Until `stream` has a leader other than `gone` (a node that was killed)."""
        asyncio.run(self._ready((stream,), within, gone))

    async def _ready(self, streams: tuple[str, ...], within: float, gone: str) -> None:
        deadline = time.monotonic() + within
        problem = "no answer"
        while time.monotonic() < deadline:
            problem = await self._problem(streams, gone)
            if not problem:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the NATS cluster was not ready within {within:g}s: {problem}")

    async def _problem(self, streams: tuple[str, ...], gone: str = "") -> str:
        """What keeps the cluster from being ready ('' when it is); with `gone`, only a leader elsewhere
        is asked for."""
        try:
            nc = await connect(self.url, connect_timeout=2, max_reconnect_attempts=0, error_cb=_quiet)
        except (NatsError, OSError) as exc:
            return f"cannot connect: {exc!r}"
        try:
            js = nc.jetstream(timeout=2)
            await js.account_info()  # answered only once a meta leader is elected
            for stream in streams:
                info = await js.stream_info(stream)
                cluster = info.cluster
                if cluster is None or not cluster.leader or cluster.leader == gone:
                    return f"{stream}: no leader (yet) other than {gone or 'none'}"
                if gone:
                    continue
                replicas = cluster.replicas or []
                if len(replicas) != self.size - 1 or not all(r.current for r in replicas):
                    return f"{stream}: replicas not current ({[(r.name, r.current) for r in replicas]})"
            return ""
        except (NatsError, JsError, TimeoutError) as exc:
            return repr(exc)
        finally:
            await nc.close()

    async def leader(self, stream: str) -> str:
        nc = await connect(self.url)
        try:
            info = await nc.jetstream().stream_info(stream)
            assert info.cluster is not None and info.cluster.leader, f"{stream} has no leader"
            return info.cluster.leader
        finally:
            await nc.close()
