"""Generated events of every registered type and CAD documents, valid and broken, published through the
real bus (each as the identity that may publish it) to every service running as its own process: no
process dies, no consumer stalls, nothing accepted is lost, whatever a consumer rejects is dead-lettered
with its reason, and every service is still healthy. `make fuzz` runs it at full size
(PEERLINE_NATS_FUZZ_INPUTS, 10,000+); `make test` a small run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import httpx
import pytest

from shared.runtime import SERVICES
from tests.fuzz.audit import Findings, audit
from tests.fuzz.publish import Publisher
from tests.support.bus import connect
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
INPUTS = int(os.environ.get("PEERLINE_NATS_FUZZ_INPUTS", "300"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("natsfuzz"), start_within=180) as c:  # a busy machine starts slowly
        yield c


async def fuzz(cluster: Cluster) -> tuple[Publisher, Findings]:
    publisher = Publisher(cluster.server.url, asyncio.get_running_loop())
    try:
        await asyncio.to_thread(publisher.run, INPUTS)
    finally:
        await publisher.close()
    nc = await connect(cluster.server.url)
    try:
        return publisher, await audit(nc.jetstream(), publisher.sent, within=120 + INPUTS / 20)
    finally:
        await nc.close()


def health(cluster: Cluster) -> dict[str, tuple[int, int]]:
    """Each service's answer to a health probe on its ops port and on its API."""
    return {
        name: (
            httpx.get(f"http://127.0.0.1:{cluster.ops[name]}/healthz", timeout=10).status_code,
            httpx.get(f"{cluster.url(name)}/healthz", timeout=10).status_code,
        )
        for name in SERVICES
    }


@pytest.mark.timeout(max(600, INPUTS))
def test_no_published_input_crashes_stalls_or_is_lost(cluster: Cluster) -> None:
    publisher, found = asyncio.run(fuzz(cluster))
    counts = publisher.summary()
    print(f"nats fuzz: {dict(counts)}; accepted events no consumer can read: {found.unreadable}")
    for durable in sorted(found.applied):
        print(f"  {durable}: applied {found.applied[durable]}, dead-lettered {found.dead[durable]}")
    for reason, n in found.failed.most_common(30):
        print(f"  readable, dead-lettered {n}x by {reason}")
    exited = {c.name: c.proc.poll() if c.proc else "never started" for c in cluster.supervisor.children}
    assert all(code is None for code in exited.values()), exited
    assert all(c.restarts == 0 for c in cluster.supervisor.children)
    assert not found.stalled, found.stalled
    assert not found.missing, found.missing[:20]
    assert not found.undead, found.undead[:20]
    assert not found.no_reason, found.no_reason[:20]
    answers = health(cluster)
    assert all(ops == 200 and api < 500 for ops, api in answers.values()), answers
    assert counts["sent"] >= INPUTS and counts["accepted"] > INPUTS // 2
    assert found.dead and found.applied  # both kinds of outcome were reached
