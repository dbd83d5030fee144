"""Notify as its own process, killed (SIGKILL) while deliveries wait for a retry and restarted while
offers pile up on the log: every message arrives, none twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.contracts.matching import PeerAssigned
from shared.envelope import Envelope
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from tests.notify.conftest import read_log
from tests.notify.receivers import Receiver
from tests.support.bus import connect
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
A = "riverton-fire"
SECRET = "hook-secret-0123456789"


@pytest.fixture
def service(nats_server: NatsServer, tmp_path: Path) -> Iterator[Cluster]:
    env = {"PEERLINE_RETRY_BACKOFF_S": "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"}
    with Cluster(tmp_path, services=("notify",), env=env, on=nats_server, seeded=False) as c:
        yield c


def webhook(c: Cluster, peer: str, url: str) -> None:
    r = httpx.post(
        f"{c.url('notify')}/v1/me/contacts",
        json={"channel": "webhook", "url": url, "secret": SECRET},
        headers={"Authorization": f"Bearer {c.token('peer', A, peer)}"},
    )
    assert r.status_code == 201, r.text


async def _offer(url: str, peers: list[str]) -> None:
    nc = await connect(url)
    store = EventStore(nc.jetstream())
    for i, peer in enumerate(peers):
        event = PeerAssigned(peer_ref=peer, peer_agency=A, assignment_id=f"a-{peer}")
        env = Envelope.wrap(event, agency=A, subject=f"c-{i}-{peer}", source="peerline/test")
        await store.append([env], expected=None)
    await nc.close()


async def _delivered(url: str) -> list[Envelope]:
    nc = await connect(url)
    found = await read_log(nc.jetstream(), "ev.*.notice.*.notification_delivered")
    await nc.close()
    return found


def until(check: object, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_a_crash_loses_no_message_and_sends_none_twice(service: Cluster, nats_server: NatsServer) -> None:
    peers = [f"p-{i}" for i in range(15)]
    with Receiver() as hooks:
        for peer in peers:
            webhook(service, peer, f"{hooks.url}/hook/{peer}")
        failing = peers[5:10]
        hooks.status.update({f"/hook/{p}": 503 for p in failing})
        asyncio.run(_offer(nats_server.url, peers[:10]))

        def first_round() -> bool:
            return all(hooks.at(f"/hook/{p}") for p in peers[:10])

        until(first_round)
        assert first_round(), service.child("notify").log_path.read_text()[-2000:]
        # Once the five deliveries are recorded (their outcomes are on the log), kill: the other five
        # wait in notify's database for a retry. (A delivery caught between being sent and being
        # recorded is sent again after a crash, with the same id: receivers drop it.)
        until(lambda: len(asyncio.run(_delivered(nats_server.url))) >= 5)
        service.kill("notify")
        hooks.status.clear()
        asyncio.run(_offer(nats_server.url, peers[10:]))  # while notify is down
        service.restart("notify")

        def taken(peer: str) -> list[str]:
            return [h.headers["ce-id"] for h in hooks.at(f"/hook/{peer}") if h.answered < 300]

        until(lambda: all(taken(p) for p in peers))
        for peer in peers:
            assert len(taken(peer)) == 1, (peer, hooks.at(f"/hook/{peer}"))
        assert all(len(hooks.at(f"/hook/{p}")) == 1 for p in peers[:5] + peers[10:])
        until(lambda: len(asyncio.run(_delivered(nats_server.url))) >= len(peers))
        delivered = asyncio.run(_delivered(nats_server.url))
        assert len(delivered) == len(peers) == len({e.subject for e in delivered})
