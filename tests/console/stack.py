"""Every service in its own process on a real nats-server (the chaos bench's cluster), and the console
served over HTTP in this process, pointed at them, for Chromium to open."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from services.console.main import create_app
from shared.envelope import STREAM, Envelope
from shared.natsserver import free_port
from shared.runtime import SERVICES
from tests.console.support import console_settings
from tests.support.bus import connect
from tests.support.cluster import Cluster

BACKENDS = tuple(s for s in SERVICES if s != "console")


@contextmanager
def services(workdir: Path) -> Iterator[Cluster]:
    cluster = Cluster(workdir, services=BACKENDS, start_within=120)  # a loaded machine starts them slowly
    try:
        cluster.start()
        for name in BACKENDS:
            cluster.wait_healthy(name, within=120)
        yield cluster
    finally:  # also when start-up fails: no process outlives the test
        cluster.stop()


@contextmanager
def console_server(cluster: Cluster) -> Iterator[str]:
    """The console on a free port; its URL uses `localhost`, where browsers keep `Secure` cookies."""
    settings = console_settings(cluster.workdir, {name: cluster.url(name) for name in BACKENDS})
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _first(url: str, subject: str) -> Envelope | None:
    nc = await connect(url)
    try:
        msg = await nc.jetstream().get_msg(STREAM, seq=1, subject=subject, next=True)
        return Envelope.from_bytes(msg.data or b"")
    except Exception:
        return None
    finally:
        await nc.close()


def wait_for_event(cluster: Cluster, subject: str, within: float = 20.0) -> Envelope:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(1) as worker:  # Playwright's sync API keeps a loop in this thread
            found = worker.submit(asyncio.run, _first(cluster.server.url, subject)).result()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no event on {subject} within {within} s")
