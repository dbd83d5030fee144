"""Liveness is not readiness: while NATS is down a service stays alive (its /livez answers 200, so
Kubernetes does not restart it) but is not ready (/readyz answers 503, so it takes no traffic), and it
is ready again once the bus is back. One service process against a real nats-server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
SERVICE = "intake"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, services=(SERVICE,), start_within=90)
    try:
        c.start()
        yield c
    finally:  # also when start-up fails: no process outlives the test
        c.stop()


def status(c: Cluster, path: str) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{c.ops[SERVICE]}{path}", timeout=2).status_code
    except httpx.HTTPError:
        return None


def until(c: Cluster, path: str, code: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while status(c, path) != code:
        assert time.monotonic() < deadline, f"{path} never answered {code}"
        time.sleep(0.1)


def test_a_nats_outage_makes_a_service_unready_but_never_dead(cluster: Cluster) -> None:
    until(cluster, "/readyz", 200)
    assert status(cluster, "/livez") == 200 and status(cluster, "/healthz") == 200
    cluster.server.stop()
    until(cluster, "/readyz", 503)
    assert status(cluster, "/livez") == 200, "liveness must not depend on the bus"
    assert status(cluster, "/healthz") == 503, "/healthz is the readiness answer under its older name"
    cluster.server.start()
    until(cluster, "/readyz", 200)
    assert status(cluster, "/livez") == 200
