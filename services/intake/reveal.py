"""The vault's reveal service: NATS request/reply on `cmd.intake.reveal_identity` (queue group).

The request must cite an open escalation of the case whose policy allows disclosure, asked by the
person who acknowledged it (checked against the log, not taken on trust). `identity_disclosed` is
appended BEFORE the identity is sent: a reveal that is not on record does not happen. The identity
travels only on the reply inbox; it is never logged or put in a span.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate, trace
from pydantic import ValidationError

from services.intake import domain
from services.intake.keys import KeyUnavailable
from services.intake.vault import Vault
from shared.contracts.intake import (
    REVEAL_SUBJECT,
    IdentityDisclosed,
    MemberRegistered,
    RevealReply,
    RevealRequest,
)
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.items import describe

SOURCE = "peerline/intake-vault"
QUEUE = "intake-vault"
log = logging.getLogger("peerline.intake.vault")
_tracer = trace.get_tracer("peerline.intake.vault")


class Revealer:
    def __init__(self, store: EventStore, vault: Vault) -> None:
        self.store, self.vault = store, vault

    async def reveal(self, req: RevealRequest) -> RevealReply:
        escalation = await self.store.load(req.agency, "escalation", req.escalation_id)
        case = await self.store.load(req.agency, "case", req.case_id)
        case_events = [s.envelope.payload() for s in case.events]
        member_ref = domain.case_member(case_events)
        for _ in range(5):
            member = await self.store.load(req.agency, "member", member_ref) if member_ref else None
            try:
                allowed = domain.may_reveal(
                    [s.envelope.payload() for s in escalation.events],
                    case_events,
                    [s.envelope.payload() for s in member.events] if member else [],
                    case_id=req.case_id,
                    requested_by=req.requested_by,
                )
            except domain.Rejected as exc:
                return RevealReply(ok=False, refused=str(exc))
            assert member is not None
            registered = next(
                e for e in (s.envelope.payload() for s in member.events) if isinstance(e, MemberRegistered)
            )
            try:
                fields = await asyncio.to_thread(self.vault.open, allowed.member_ref, registered)
            except KeyUnavailable:
                return RevealReply(ok=False, refused="the member's identity was erased")
            record = IdentityDisclosed(
                escalation_id=req.escalation_id,
                case_id=req.case_id,
                basis=allowed.basis,
                requested_by=req.requested_by,
                disclosed_to=req.disclosed_to,
                fields=tuple(sorted(fields)),
                reason=req.reason,
            )
            env = Envelope.wrap(
                record, agency=req.agency, subject=allowed.member_ref, source=SOURCE, id=str(uuid.uuid4())
            )
            try:
                await self.store.append([env], expected=member.version)
            except ConcurrencyConflict:
                continue  # e.g. erased meanwhile: decide again
            return RevealReply(ok=True, fields=fields)
        return RevealReply(ok=False, refused="the member's record is busy; ask again")

    async def on_request(self, msg: Msg) -> None:
        with _tracer.start_as_current_span(
            "reveal_identity process",
            kind=trace.SpanKind.SERVER,
            context=propagate.extract(msg.headers or {}),
        ) as span:
            try:
                req = RevealRequest.model_validate_json(msg.data)
            except (ValidationError, ValueError) as exc:
                reply = RevealReply(ok=False, refused=describe(exc))
            else:
                try:
                    reply = await self.reveal(req)
                except Exception as exc:  # never leave the caller waiting without a reason
                    log.exception("reveal failed")
                    reply = RevealReply(ok=False, refused=f"vault error: {type(exc).__name__}")
            span.set_attribute("peerline.reveal.ok", reply.ok)
            if not reply.ok:
                log.info("reveal refused: %s", reply.refused)
            await msg.respond(reply.model_dump_json().encode())

    async def serve(self, nc: Client) -> Subscription:
        return await nc.subscribe(REVEAL_SUBJECT, queue=QUEUE, cb=self.on_request)
