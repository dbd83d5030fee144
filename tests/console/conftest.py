"""The console in process: HTTP through ASGI, the development key in a temporary var dir, and the
services' URLs pointing at a closed port unless a test brings real services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bench.chaos.cluster import Cluster
from services.console.main import create_app
from tests.console.stack import console_server, services
from tests.console.support import console_settings


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
async def live(stack: tuple[Cluster, str], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A console in process (through ASGI) whose calls reach the real services."""
    cluster, _ = stack
    urls = {name: cluster.url(name) for name in cluster.services}
    settings = console_settings(cluster.workdir, urls)
    transport = httpx.ASGITransport(create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
