"""A notify service in this process on a private nats-server, with a real SMTP server, a real local HTTP
server for webhooks and Web Push, and its HTTP API on a real port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from services.notify.main import Notify
from services.notify.settings import NotifySettings
from shared.auth import Role, generate_dev_keys, mint
from shared.contracts.base import Event
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore
from shared.natsserver import NatsServer, free_port
from shared.topology import DLQ_STREAM, provision
from tests.notify.receivers import Mailbox, Receiver
from tests.support.bus import connect, messages, seed

T = TypeVar("T")
A = "riverton-fire"


@dataclass
class Rig:
    app: Notify
    nc: Client
    js: JetStreamContext
    mailbox: Mailbox
    receiver: Receiver
    api: httpx.AsyncClient
    private_key: bytes

    def auth(self, role: Role, sub: str, agency: str = A) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(self.private_key, role=role, agency=agency, sub=sub)}"}

    async def publish(self, event: Event, subject: str, agency: str = A) -> Envelope:
        env = Envelope.wrap(event, agency=agency, subject=subject, source="peerline/test")
        await EventStore(self.js).append([env], expected=None)
        return env

    async def events(self, subject: str) -> list[Envelope]:
        return await read_log(self.js, subject)

    async def add_contact(self, role: Role, sub: str, body: dict[str, Any], agency: str = A) -> str:
        r = await self.api.post("/v1/me/contacts", json=body, headers=self.auth(role, sub, agency))
        assert r.status_code == 201, r.text
        return str(r.json()["contact_id"])


async def read_log(js: JetStreamContext, subject: str, stream: str = STREAM) -> list[Envelope]:
    """The events under `subject`; none yet when the server is too slow to answer (callers poll)."""
    try:
        return [Envelope.from_bytes(m.data or b"") for m in await messages(js, stream, subject)]
    except NatsTimeout:
        return []


async def dead_letters(js: JetStreamContext) -> list[dict[str, str]]:
    try:
        found = await messages(js, DLQ_STREAM, "dlq.notify-inbox")
    except NatsTimeout:
        return []
    return [dict(m.headers or {}) | {"body": (m.data or b"").decode()} for m in found]


async def eventually(check: Callable[[], Awaitable[T]], within: float = 15.0) -> T:
    """Poll `check` until it returns something truthy (bounded: a broken build fails, never hangs)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


def settings_for(tmp: Path, nats_url: str, smtp_port: int, public_key: Path, **extra: Any) -> NotifySettings:
    return NotifySettings(
        nats_url=nats_url,
        nats_seed_file=seed(nats_url, "notify"),
        var_dir=tmp,
        http_port=free_port(),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        sms_adapter="log",
        retry_backoff_s=[0.05, 0.1],
        poll_s=0.05,
        jwt_public_key_file=public_key,
        link_base="https://console.example",
        **extra,
    )


@pytest.fixture
async def rig(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Rig]:
    private, public = generate_dev_keys(tmp_path / "keys")
    nc = await connect(nats_server.url)
    js = nc.jetstream()
    await provision(js)
    with Mailbox() as mailbox, Receiver() as receiver:
        app = Notify(settings_for(tmp_path, nats_server.url, mailbox.port, public))
        stop = asyncio.Event()
        running = asyncio.create_task(app.run(stop))
        base = f"http://127.0.0.1:{app.settings.http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as api:

            async def up() -> bool:
                try:
                    return app.ready and (await api.get("/v1/push/key")).status_code == 200
                except httpx.HTTPError:
                    return False

            assert await eventually(up), "notify did not start"
            yield Rig(app, nc, js, mailbox, receiver, api, private.read_bytes())
        stop.set()
        await running
    await nc.close()
