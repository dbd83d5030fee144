"""The CAD inbox worker: raw documents from `cad.<agency>.incident` (stream PEERLINE_CAD_INBOX), and
support requests taken at an agency site (`site.<agency>.request`, sourced from the site's stream).

A document is acked only after its events are in the log, or after it went to PEERLINE_DLQ with the
reason (invalid documents at once; failing ones after `max_deliveries`): nothing accepted is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from opentelemetry import propagate, trace

from services.intake import reader
from services.intake.dispatch import Dispatch
from services.intake.site_requests import SiteRequests
from shared.consumers.intake import CAD_DURABLE, CAD_INBOX
from shared.dlq import dead_letter
from shared.envelope import TOKEN
from shared.items import describe
from shared.service import keep_stepping
from shared.siterequest import SiteRequest

log = logging.getLogger("peerline.intake.cad")
DLQ_TTL_S = (
    7 * 24 * 3600
)  # a rejected CAD document names members of the public: kept a week to fix, then gone
_tracer = trace.get_tracer("peerline.intake.cad")


class Inbox:
    def __init__(
        self,
        js: JetStreamContext,
        dispatch: Dispatch,
        max_deliveries: int = 5,
        requests: SiteRequests | None = None,
    ) -> None:
        self.js, self.dispatch, self.max_deliveries = js, dispatch, max_deliveries
        self.requests = requests
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        self._sub = await self.js.pull_subscribe_bind(CAD_DURABLE, stream=CAD_INBOX)

    async def run(self, stop: asyncio.Event) -> None:
        if self._sub is None:
            await self.start()
        try:
            await keep_stepping("CAD inbox", self.step, stop)
        finally:
            if self._sub is not None:
                with contextlib.suppress(Exception):
                    await self._sub.unsubscribe()
                self._sub = None

    async def step(self, timeout: float = 1.0) -> int:
        assert self._sub is not None, "start() first"
        try:
            msgs = await self._sub.fetch(32, timeout=timeout)
        except (TimeoutError, NatsTimeout):
            return 0
        for msg in msgs:
            with _tracer.start_as_current_span(
                "cad.incident process",
                kind=trace.SpanKind.CONSUMER,
                context=propagate.extract(msg.headers or {}),
                attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject},
            ):
                await self.handle(msg)
        return len(msgs)

    def _parse(self, subject: str, data: bytes) -> Callable[[], Awaitable[str]]:
        """What taking this message means (raises on a message that can never be taken)."""
        parts = subject.split(".")
        agency = parts[1] if len(parts) == 3 else ""
        if not TOKEN.match(agency):
            raise ValueError("the subject's agency token is not a valid agency id")
        if parts[0] == "site" and parts[2] == "request":
            if self.requests is None:
                raise ValueError("site requests are not taken here")
            request, requests = SiteRequest.model_validate_json(data), self.requests
            return lambda: requests.take(agency, request)
        incident = reader.parse(data)

        async def take() -> str:
            outcome = await self.dispatch.take(agency, incident)
            return f"CAD update for {outcome.incident_ref}: {outcome.summary}"

        return take

    async def handle(self, msg: Msg) -> None:
        try:
            take = self._parse(msg.subject, msg.data)
        except Exception as exc:  # whatever a document does to the parser (too deep, too odd): its fault
            await self._dead_letter(msg, describe(exc))
            return
        try:
            summary = await take()
        except Exception as exc:
            delivered = msg.metadata.num_delivered or 1
            if delivered < self.max_deliveries:
                log.warning("CAD document (delivery %d) failed: %s", delivered, describe(exc))
                await msg.nak(delay=0.2 * 2**delivered)
                return
            await self._dead_letter(msg, f"failed {delivered} times: {describe(exc)}")
            return
        log.info("%s", summary)
        await msg.ack()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        log.warning("inbox message on %s dead-lettered: %s", msg.subject.split(".")[0], reason)
        await dead_letter(
            self.js,
            CAD_DURABLE,
            subject=msg.subject,
            seq=msg.metadata.sequence.stream,
            data=msg.data,
            headers=msg.headers,
            reason=reason,
            ttl_s=DLQ_TTL_S,
        )
        await msg.ack()
