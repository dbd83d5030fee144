"""An in-process intake on a private nats-server: HTTP through ASGI, its projection, the CAD inbox
worker and the vault's reveal service, all on real JetStream and real SQLite files."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.intake import reactions as inbox
from services.intake.commands.dispatch import Dispatch
from services.intake.commands.site_requests import SiteRequests
from services.intake.main import Intake
from services.intake.projection import CaseProjection
from services.intake.settings import IntakeSettings
from services.intake.vault.reveal import Revealer
from shared.auth import Role, generate_dev_keys, mint
from shared.consumers.intake import CAD_DURABLE, CAD_INBOX, provision_streams
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from shared.reactor import Reactions
from shared.runner import ProjectionRunner
from shared.telemetry import configure_telemetry
from shared.topology import consumer, provision
from tests.support.bus import connect, messages, seed

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class World:
    intake: Intake
    client: httpx.AsyncClient
    nc: Client
    js: JetStreamContext
    private_key: bytes
    var_dir: Path
    cases: ProjectionRunner

    async def cad_taken(self) -> None:
        """Wait until the CAD inbox reaction has taken (or dead-lettered) every document published."""
        while True:
            info = await self.js.consumer_info(CAD_INBOX, CAD_DURABLE)
            if not info.num_pending and not info.num_ack_pending:
                return
            await asyncio.sleep(0.05)

    def auth(self, role: Role, agency: str, sub: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(self.private_key, role=role, agency=agency, sub=sub)}"}

    async def events(self, subject: str = "ev.>") -> list[Envelope]:
        return [Envelope.from_bytes(data) for data, _ in await stored(self.js, STREAM, subject)]


async def stored(js: JetStreamContext, stream: str, subject: str = ">") -> list[tuple[bytes, dict[str, str]]]:
    """Every message a stream holds for `subject`, with its headers."""
    return [(m.data or b"", dict(m.headers or {})) for m in await messages(js, stream, subject)]


def write_kek(path: Path) -> Path:
    path.write_text(base64.b64encode(os.urandom(32)).decode())
    return path


def write_codes(path: Path) -> Path:
    """Every agency's units: two stations (any other unit is recorded as `other`)."""
    path.write_text(json.dumps({"*": {"units": ["station-4", "station-7"]}}))
    return path


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process finishes while the test runs (a tracer provider is set once a process)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        configure_telemetry("intake-test", processor=SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # it stays on the process's provider, keeping nothing more


@pytest.fixture
async def world(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[World]:
    nc = await connect(nats_server.url)
    js = nc.jetstream()
    await provision(js)
    await provision_streams(js)
    private, public = generate_dev_keys(tmp_path / "keys")
    settings = IntakeSettings(
        nats_url=nats_server.url,
        nats_seed_file=seed(nats_server.url, "intake"),
        var_dir=tmp_path,
        jwt_public_key_file=public,
        kek_file=write_kek(tmp_path / "kek"),
        codes_file=write_codes(tmp_path / "codes.json"),
        rate_per_minute=100_000,
        rate_burst=10_000,
    )
    intake = Intake(settings)
    intake._store = store = EventStore(js)
    shred = intake.vault.callbacks.shred
    cases = ProjectionRunner(js, intake.engine, CaseProjection(shred), consumer("intake-cases"))
    stop = asyncio.Event()
    running = asyncio.create_task(cases.run(stop))
    cad = Reactions(settings, inbox.routes(), policies=inbox.policy(max_deliveries=2))
    cad.provide(
        dispatch=Dispatch(store, intake.vault, intake.policies), requests=SiteRequests(store, intake.codes)
    )
    reacting = asyncio.create_task(cad.run(stop))
    reveal = await Revealer(store, intake.vault).serve(nc)
    transport = httpx.ASGITransport(app=intake.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield World(intake, client, nc, js, private.read_bytes(), tmp_path, cases)
    await reveal.unsubscribe()
    stop.set()
    await running
    await reacting
    await nc.close()
    intake.engine.dispose()
    intake.vault.engine.dispose()
