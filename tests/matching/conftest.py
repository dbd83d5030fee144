"""Fixtures for matching: a private log, matching apps run in-process with a fake clock, a log reader; and
the given/when/then helpers of the case rules (a ready peer, a case given its events, an offer)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from services.matching import domain
from services.matching.domain import Case
from services.matching.domain.peers import Peer
from services.matching.main import Matching
from services.matching.settings import MatchingSettings
from shared.auth import generate_dev_keys
from shared.clock import FakeClock
from shared.consumers.matching import directory_replica
from shared.contracts.base import Event
from shared.contracts.intake import SupportRequested
from shared.contracts.matching import PeerAssigned
from shared.envelope import STREAM, Envelope
from shared.natsserver import NatsServer
from shared.topology import provision
from tests.support.bus import connect, seed

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
A = "riverton-fire"


def ready(ref: str, **kw: object) -> Peer:
    """A peer of agency A who may be offered a case (active, acknowledged, on duty, confirmed)."""
    base = Peer(
        ref, A, stage="active", acknowledged=True, on_duty=True, confirmed_at=NOW, member_ref=f"m-{ref}"
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def given(*events: Event, supervisors: tuple[str, ...] = ()) -> Case:
    """Case c-1 of agency A: a member's own request, then these events."""
    case = Case(case_id="c-1")
    requested = SupportRequested(
        activation="self", member_ref="m-req", token_hash="h", supervisor_refs=supervisors
    )
    for e in (requested, *events):
        case = domain.evolve(case, e, A, "c-1")
    return case


def offered(ref: str, n: int = 1) -> PeerAssigned:
    """Case c-1's n-th offer, to peer `ref`, answered within 15 minutes of NOW."""
    respond_by = (NOW + timedelta(minutes=15)).isoformat()
    return PeerAssigned(peer_ref=ref, peer_agency=A, assignment_id=f"c-1-a{n}", respond_by=respond_by)


@dataclass
class Log:
    """A private, provisioned log and a client on it."""

    url: str
    nc: Client
    server: NatsServer

    async def cases(self, subject: str = "ev.*.case.>") -> dict[str, list[tuple[int, Envelope]]]:
        """Every case's events in stream order, read with an ordered consumer."""
        out: dict[str, list[tuple[int, Envelope]]] = defaultdict(list)
        js = self.nc.jetstream()
        info = await js.stream_info(STREAM)
        if not info.state.messages:
            return out
        sub = await js.subscribe(subject, stream=STREAM, ordered_consumer=True)
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except TimeoutError:
                    return out
                env = Envelope.from_bytes(msg.data)
                out[env.subject].append((msg.metadata.sequence.stream, env))
                if not msg.metadata.num_pending:
                    return out
        finally:
            await sub.unsubscribe()


@pytest.fixture
async def log(nats_server: NatsServer) -> AsyncIterator[Log]:
    nc = await connect(nats_server.url)
    await provision(nc.jetstream())
    yield Log(nats_server.url, nc, nats_server)
    await nc.close()


Launch = Callable[..., Awaitable[Matching]]


@pytest.fixture
async def launch(log: Log, tmp_path: Path) -> AsyncIterator[Launch]:
    """Start a matching app in this process: `await launch(name, clock, **settings)`; stopped at the end."""
    _, public = generate_dev_keys(tmp_path / "keys")
    running: list[tuple[Matching, asyncio.Event, asyncio.Task[None]]] = []

    async def start(name: str = "a", clock: FakeClock | None = None, **settings: Any) -> Matching:
        values: dict[str, Any] = {
            "nats_url": log.url,
            "nats_seed_file": seed(log.url, "matching"),
            "var_dir": tmp_path / name,
            "http_port": 0,
            "jwt_public_key_file": public,
            "timer_poll_s": 0.05,
            **settings,
        }
        durable = values.get("directory_consumer", "matching-directory")
        if durable != "matching-directory":
            await log.nc.jetstream().add_consumer(STREAM, directory_replica(durable).config())
        app = Matching(MatchingSettings(**values), clock=clock or FakeClock())
        stop = asyncio.Event()
        task = asyncio.create_task(app.run(stop))
        for _ in range(400):
            if app.ready or task.done():
                break
            await asyncio.sleep(0.025)
        if task.done():
            task.result()
        app.stop_event = stop  # type: ignore[attr-defined]
        app.task = task  # type: ignore[attr-defined]
        running.append((app, stop, task))
        return app

    yield start
    for _, stop, _task in running:
        stop.set()
    for _, _, task in running:
        await asyncio.wait_for(task, timeout=20)


async def stop_app(app: Matching) -> None:
    app.stop_event.set()  # type: ignore[attr-defined]
    await asyncio.wait_for(app.task, timeout=20)  # type: ignore[attr-defined]


@pytest.fixture
def stop() -> Callable[[Matching], Awaitable[None]]:
    return stop_app
