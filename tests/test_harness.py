"""The process harness (tests/support/cluster.py): ready means caught up with the log, and a start that
fails leaves no process behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.contracts.intake import SupportRequested
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.natsserver import NatsServer, free_port
from tests.support.bus import connect, provisioned
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
A = "riverton-fire"


async def history(url: str, n: int) -> None:
    await provisioned(url)
    nc = await connect(url)
    store = EventStore(nc.jetstream())
    for _ in range(n):
        event = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
        await store.append([Envelope.wrap(event, agency=A, subject=new_id("c"), source="test")], 0)
    await nc.close()


async def behind(url: str, durable: str) -> tuple[int, int]:
    nc = await connect(url)
    try:
        info = await nc.jetstream().consumer_info(STREAM, durable)
        return info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


def test_a_started_service_has_caught_up_with_the_log(nats_server: NatsServer, tmp_path: Path) -> None:
    asyncio.run(history(nats_server.url, 300))  # intake serves before its case view has applied these
    with Cluster(tmp_path, services=("intake",), on=nats_server, seeded=False):
        assert asyncio.run(behind(nats_server.url, "intake-cases")) == (0, 0)


def test_a_failed_start_leaves_no_process_running(tmp_path: Path) -> None:
    broken = {"PEERLINE_NATS_SEED_FILE": str(tmp_path / "no-such-seed.nk")}  # nobody can connect
    cluster = Cluster(tmp_path, services=("intake", "tracking"), env=broken, start_within=30, seeded=False)
    with pytest.raises((RuntimeError, TimeoutError), match=r"intake|tracking"):
        cluster.start()
    assert None not in cluster.exit_codes().values()  # every service process has ended
    assert cluster.server.proc is None  # and the nats-server it started is stopped


def test_ports_handed_out_for_a_cluster_are_never_the_same_twice() -> None:
    """Each probe closes its socket, so the kernel may offer one port again at once: a service's API and
    ops ports (or two services') once came out equal and the second process could not bind."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
