"""A wellness service in this process on a private nats-server, with a fake clock and real adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.wellness.domain.policy import AgencyPolicy, Policies
from services.wellness.main import Wellness
from services.wellness.settings import WellnessSettings
from shared.auth import Auth, Verifier, generate_dev_keys
from shared.clock import FakeClock
from shared.contracts.base import Event
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from shared.runner import ProjectionRunner
from shared.topology import provision
from tests.support.bus import connect, messages

POLICY = AgencyPolicy(
    max_active_cases=2,
    max_contacts_7d=4,
    max_personal_incidents=2,
    cool_down=timedelta(hours=1),
    exposure_threshold=2,
    exposure_window=timedelta(days=90),
)


@dataclass
class Rig:
    app: Wellness
    clock: FakeClock
    js: JetStreamContext
    view: ProjectionRunner
    private_key: bytes
    tmp: Path

    @property
    def store(self) -> EventStore:
        return self.app.store()

    async def publish(
        self, event: Event, agency: str, subject: str, source: str = "peerline/test"
    ) -> Envelope:
        env = Envelope.wrap(event, agency=agency, subject=subject, source=source, time=self.clock.now())
        await self.store.append([env], expected=None)
        return env

    async def settle(self) -> None:
        """Let the view catch up and every due timer fire, until nothing moves."""
        for _ in range(100):
            await self.view.catch_up()
            if not await self.app.timers.tick():
                await self.view.catch_up()
                if not await self.app.timers.tick():
                    return
        raise AssertionError("wellness never settled")

    async def events(self, subject: str) -> list[Envelope]:
        return [Envelope.from_bytes(m.data or b"") for m in await messages(self.js, STREAM, subject)]

    async def restarted(self) -> Rig:
        """A fresh service object on the same database: what a process restart finds."""
        await self.view.stop()
        app = build(self.app.settings, self.clock, self.app.auth, self.app.policies)
        app.connect(EventStore(self.js))
        view = app.runner(self.js)
        await view.start()
        return Rig(app, self.clock, self.js, view, self.private_key, self.tmp)


def build(settings: WellnessSettings, clock: FakeClock, auth: Auth, policies: Policies) -> Wellness:
    return Wellness(settings, auth=auth, clock=clock, policies=policies)


@pytest.fixture
async def private_nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await connect(nats_server.url)
    await provision(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
async def rig(private_nc: Client, tmp_path: Path) -> AsyncIterator[Rig]:
    private, public = generate_dev_keys(tmp_path / "keys")
    auth = Auth(Verifier(issuer="peerline-dev", audience="peerline", public_key_pem=public.read_bytes()))
    settings = WellnessSettings(var_dir=tmp_path)
    clock = FakeClock()
    js = private_nc.jetstream()
    app = build(settings, clock, auth, Policies(default=POLICY))
    app.connect(EventStore(js))
    view = app.runner(js)
    await view.start()
    r = Rig(app, clock, js, view, private.read_bytes(), tmp_path)
    yield r
    await r.view.stop()
