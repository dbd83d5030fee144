"""Matching's reactor (thin): a `support_requested` event → the assigner → `peer_assigned` (or unmatched)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware

from services.matching.assigner import Assigner
from shared.dlq import dead_letter
from shared.envelope import STREAM, Envelope
from shared.projection import describe
from shared.topology import consumer

log = logging.getLogger("peerline.matching")
ASSIGNER = consumer("matching-assigner")


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
