"""Matching's reactor (thin): a `support_requested` event → domain decision → `peer_assigned`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from nats.js import JetStreamContext
from sqlalchemy import Engine

from services.matching import domain
from services.matching.projection import candidates
from shared.dlq import dead_letter
from shared.envelope import STREAM, Envelope
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.projection import describe
from shared.topology import consumer

SOURCE = "peerline/matching"
log = logging.getLogger("peerline.matching")
ASSIGNER = consumer("matching-assigner")


class Assigner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store: EventStore | None = None

    def connect(self, js: JetStreamContext) -> None:
        self.js = js
        self.store = EventStore(js)

    async def handle(self, requested: Envelope) -> None:
        assert self.store is not None, "connect() first"
        for _ in range(20):
            history = await self.store.load(requested.agency, "case", requested.subject)
            case = domain.Case()
            for stored in history.events:
                case = domain.evolve(case, stored.envelope.payload(), stored.envelope.agency)
            peers = await asyncio.to_thread(self._peers)
            events = domain.assign(case, peers)
            if not events:
                return
            envs = [
                Envelope.wrap(
                    e, agency=requested.agency, subject=requested.subject, source=SOURCE, cause=requested
                )
                for e in events
            ]
            try:
                await self.store.append(envs, expected=history.version)
                return
            except ConcurrencyConflict:
                continue
        raise RuntimeError("case kept changing under the assigner")

    def _peers(self) -> list[domain.Peer]:
        with self.engine.connect() as conn:
            return candidates(conn)


async def raw_body(msg: Any) -> bytes:
    return bytes(msg.body)


def build_broker(url: str, assigner: Assigner, max_deliveries: int) -> NatsBroker:
    broker = NatsBroker(
        url,
        middlewares=[NatsTelemetryMiddleware()],
        logger=None,
        max_reconnect_attempts=-1,
        name="peerline-matching",
    )

    @broker.subscriber(
        ASSIGNER.filter_subjects[0],
        stream=JStream(STREAM, declare=False),
        durable=ASSIGNER.durable,
        pull_sub=PullSub(batch_size=64, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_body,
    )
    async def on_support_requested(body: bytes, msg: NatsMessage) -> None:
        raw = msg.raw_message
        try:
            requested = Envelope.from_bytes(body)
            requested.payload()
        except ValueError as exc:
            await dead_letter(
                assigner.js,
                ASSIGNER.durable,
                subject=raw.subject,
                seq=raw.metadata.sequence.stream,
                data=body,
                headers=raw.headers,
                reason=describe(exc),
            )
            return
        try:
            await assigner.handle(requested)
        except Exception as exc:
            delivered = raw.metadata.num_delivered or 1
            if delivered < max_deliveries:
                await asyncio.sleep(0.1 * 2**delivered)
                raise  # nack: redelivered
            log.error("case %s dead-lettered after %d deliveries", requested.subject, delivered)
            await dead_letter(
                assigner.js,
                ASSIGNER.durable,
                subject=raw.subject,
                seq=raw.metadata.sequence.stream,
                data=body,
                headers=raw.headers,
                reason=f"failed {delivered} times: {describe(exc)}",
            )

    return broker
