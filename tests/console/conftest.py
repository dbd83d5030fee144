"""The console in process: HTTP through ASGI, the development key in a temporary var dir, and the
services' URLs pointing at a closed port unless a test brings real services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.console.main import create_app
from tests.console.stack import console_server, services
from tests.console.support import console_settings
from tests.support.cluster import Cluster


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(console_settings(tmp_path))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    """Every service in its own process, and the console serving them over HTTP: (cluster, console URL)."""
    with services(tmp_path_factory.mktemp("console")) as cluster, console_server(cluster) as url:
        yield cluster, url


@pytest.fixture
def live_app(stack: tuple[Cluster, str]) -> FastAPI:
    """A console in process whose calls reach the real services."""
    cluster, _ = stack
    urls = {name: cluster.url(name) for name in cluster.services}
    return create_app(console_settings(cluster.workdir, urls))


@pytest.fixture
async def live(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the console in process (through ASGI)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(live_app), base_url="https://testserver") as c:
        yield c


@pytest.fixture
async def live_peer(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same console: its own cookies, its own session."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(live_app), base_url="https://testserver") as c:
        yield c
