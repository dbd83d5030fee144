"""One way for tests (and the benchmarks) to run a nats-server and open connections to it.

Every server here authenticates, as in production: each client connects as one bus identity
(shared.buspolicy) with its NKey seed. Tests act as a service by naming it (`user="intake"`); their own
set-up and checks use "harness", an identity that exists only on servers started here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from shared import busclient
from shared.natsserver import DEMO_AGENCIES, NatsServer
from shared.topology import provision

AGENCIES = (*DEMO_AGENCIES, "a1", "a2")  # one CAD identity each
_SEEDS: dict[str, Path] = {}


def start_server(data_dir: Path, **options: Any) -> NatsServer:
    """A started nats-server whose identities this module can connect as."""
    options.setdefault("agencies", AGENCIES)
    server = NatsServer(data_dir, harness=True, **options).start()
    _SEEDS[server.url] = server.seeds
    return server


def register(url: str, seeds_dir: Path) -> None:
    """Servers started elsewhere (a cluster, a site): connect to `url` with the seeds in `seeds_dir`."""
    _SEEDS[url] = seeds_dir


def seed(url: str, user: str) -> Path:
    try:
        path = _SEEDS[url] / f"{user}.nk"
    except KeyError:
        raise KeyError(f"{url} was not started by tests.support.bus.start_server") from None
    if not path.exists():
        raise KeyError(f"no bus identity {user!r} on {url}")
    return path


def seeds(url: str) -> Path:
    return _SEEDS[url]


async def connect(url: str, user: str = "harness", **options: Any) -> Client:
    """A client on `url` as `user` (a service name, "provisioner", "cad-<agency>", or "harness")."""
    return await busclient.connect(url, user, seed(url, user), **options)


async def provisioned(url: str) -> None:
    """The log's streams and every service's durables on `url`, created (or brought up to date) as the
    provisioner identity, as `peerline bootstrap` does."""
    admin = await connect(url, "provisioner")
    try:
        await provision(admin.jetstream())
    finally:
        await admin.close()


async def messages(js: JetStreamContext, stream: str, subject: str = ">") -> list[RawStreamMsg]:
    """Every message `stream` holds under `subject`, in order, read by direct get (no consumer)."""
    out: list[RawStreamMsg] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return out
        out.append(msg)
        seq = (msg.seq or 0) + 1
