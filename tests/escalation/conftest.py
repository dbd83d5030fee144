"""Escalation fixtures: the service in-process on a private nats-server with a fake clock, a notification
listener, and a TEST DOUBLE of intake's identity vault (the real one lives in intake; see test_e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.escalation.main import Escalation
from services.escalation.settings import EscalationSettings
from shared.auth import Role, generate_dev_keys, mint
from shared.clock import FakeClock
from shared.contracts.base import Event
from shared.contracts.escalation import TierNotification
from shared.contracts.intake import (
    REVEAL_SUBJECT,
    IdentityDisclosed,
    RevealReply,
    RevealRequest,
    SupportRequested,
)
from shared.contracts.matching import AssignmentAccepted, PeerAssigned
from shared.envelope import Envelope, new_id
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.natsserver import NatsServer
from shared.runner import ProjectionRunner
from shared.topology import provision
from tests.support.bus import connect, seed

AGENCY = "riverton-fire"


class VaultDouble:
    """Stands in for intake's vault on REVEAL_SUBJECT, applying the checks intake applies: an
    `escalation_triggered` with disclosable=True on the same case, an `escalation_acknowledged` by the
    requester, no `escalation_resolved`. On a reveal it records `identity_disclosed` as the vault does."""

    def __init__(self, nc: Client) -> None:
        self.nc, self.store = nc, EventStore(nc.jetstream())
        self.requests: list[RevealRequest] = []
        self.sub: Subscription | None = None

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(REVEAL_SUBJECT, cb=self.handle)

    async def handle(self, msg: Msg) -> None:
        req = RevealRequest.model_validate_json(msg.data)
        self.requests.append(req)
        reply = await self.decide(req)
        await msg.respond(reply.model_dump_json().encode())

    async def decide(self, req: RevealRequest) -> RevealReply:
        history = await self.store.load(req.agency, "escalation", req.escalation_id)
        names = [s.envelope.event_name for s in history.events]
        data = {s.envelope.event_name: s.envelope.data for s in history.events}
        trig = data.get("escalation_triggered")
        if trig is None or not trig["disclosable"] or trig["case_id"] != req.case_id:
            return refused("no disclosable escalation on this case")
        if not any(
            s.envelope.event_name == "escalation_acknowledged" and s.envelope.data["by"] == req.requested_by
            for s in history.events
        ):
            return refused("not acknowledged by the requester")
        if "escalation_resolved" in names:
            return refused("the escalation is resolved")
        case = await self.store.load(req.agency, "case", req.case_id)
        member_ref = next(
            (
                s.envelope.data["member_ref"]
                for s in case.events
                if s.envelope.event_name == "support_requested"
            ),
            None,
        )
        if member_ref is None:
            return refused("no member on this case")
        member = await self.store.load(req.agency, "member", member_ref)
        disclosed = IdentityDisclosed(
            escalation_id=req.escalation_id,
            case_id=req.case_id,
            basis=trig["category"],
            requested_by=req.requested_by,
            disclosed_to=req.disclosed_to,
            fields=("name", "phone"),
            reason=req.reason,
        )
        env = Envelope.wrap(disclosed, agency=req.agency, subject=member_ref, source="test/vault-double")
        await self.store.append([env], expected=member.version)
        return RevealReply(ok=True, fields={"name": "Test Member", "phone": "555-0100"})


def refused(reason: str) -> RevealReply:
    return RevealReply(ok=False, refused=reason)


@dataclass
class Harness:
    app: Escalation
    runner: ProjectionRunner
    clock: FakeClock
    nc: Client
    store: EventStore
    private_key: bytes
    pages: asyncio.Queue[TierNotification] = field(default_factory=asyncio.Queue)

    def token(self, role: Role, sub: str, agency: str = AGENCY) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(self.private_key, role=role, agency=agency, sub=sub)}"}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app.api), base_url="http://escalation"
        )

    async def page(self, timeout: float = 10.0) -> TierNotification:
        return await asyncio.wait_for(self.pages.get(), timeout)

    async def events(self, aggregate: str, aggregate_id: str, agency: str = AGENCY) -> list[Event]:
        return [s.envelope.payload() for s in (await self.store.load(agency, aggregate, aggregate_id)).events]

    async def open_case(self, agency: str = AGENCY) -> str:
        case_id = new_id("c")
        requested = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
        await self.store.append([Envelope.wrap(requested, agency=agency, subject=case_id, source="test")], 0)
        return case_id

    async def hold(self, case_id: str, peer_ref: str, agency: str = AGENCY) -> None:
        """`peer_ref` is offered the case and accepts it: the peer holding the case."""
        await self.append(
            agency, case_id, PeerAssigned(peer_ref=peer_ref, peer_agency=agency, assignment_id="a1")
        )
        await self.append(agency, case_id, AssignmentAccepted(peer_ref=peer_ref, assignment_id="a1"))

    async def append(self, agency: str, aggregate_id: str, event: Event) -> Envelope:
        env = Envelope.wrap(event, agency=agency, subject=aggregate_id, source="test")
        for _ in range(5):
            history = await self.store.load(agency, event.aggregate, aggregate_id)
            try:
                await self.store.append([env], history.version)
                return env
            except ConcurrencyConflict:
                continue
        raise AssertionError("could not append")


@pytest.fixture
async def h(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Harness]:
    private, public = generate_dev_keys(tmp_path / "keys")
    nc = await connect(nats_server.url)
    await provision(nc.jetstream())
    clock = FakeClock()
    settings = EscalationSettings(
        nats_url=nats_server.url,
        nats_seed_file=seed(nats_server.url, "escalation"),
        var_dir=tmp_path,
        jwt_public_key_file=public,
        reveal_timeout_s=3.0,
        seed_demo_policies=True,
    )
    app = Escalation(settings, clock=clock)
    runner = await app.start()
    h = Harness(app, runner, clock, nc, EventStore(nc.jetstream()), private.read_bytes())

    async def on_page(msg: Msg) -> None:
        await h.pages.put(TierNotification.model_validate_json(msg.data))

    await nc.subscribe("notify.>", cb=on_page)
    yield h
    await runner.stop()
    await app.stop_reactions()
    await nc.close()


@pytest.fixture
async def vault(h: Harness) -> VaultDouble:
    double = VaultDouble(h.nc)
    await double.start()
    return double
