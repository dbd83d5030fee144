"""The vault's reveal service: NATS request/reply on `cmd.intake.reveal_identity` (queue group).

The request must cite an open escalation of the case whose policy allows disclosure, asked by the
person who acknowledged it (checked against the log, not taken on trust). `identity_disclosed` is
appended BEFORE the identity is sent: a reveal that is not on record does not happen. The identity
travels only on the reply inbox; it is never logged or put in a span.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate, trace
from pydantic import ValidationError

from services.intake import domain
from services.intake.vault import Vault
from services.intake.vault.keys import KeyUnavailable
from shared import decision
from shared.contracts.base import Event
from shared.contracts.intake import (
    REVEAL_SUBJECT,
    IdentityDisclosed,
    MemberRegistered,
    RevealReply,
    RevealRequest,
)
from shared.decision import Aggregate, Busy, payloads
from shared.eventstore import EventStore
from shared.items import describe

SOURCE = "peerline/intake-vault"
QUEUE = "intake-vault"
log = logging.getLogger("peerline.intake.vault")
_tracer = trace.get_tracer("peerline.intake.vault")


@dataclass(frozen=True)
class Opening:
    """A member's record as a reveal decides on it; with the policy basis and the opened identity once
    the rules allowed it."""

    member_ref: str
    member: list[Event]
    basis: str = ""
    fields: dict[str, str] = field(default_factory=dict)


class Revealer:
    def __init__(self, store: EventStore, vault: Vault) -> None:
        self.store, self.vault = store, vault

    async def reveal(self, req: RevealRequest) -> RevealReply:
        escalation = payloads(await self.store.load(req.agency, "escalation", req.escalation_id))
        case = payloads(await self.store.load(req.agency, "case", req.case_id))
        member_ref = domain.case_member(case)

        def allowed(member: list[Event]) -> domain.Reveal:
            return domain.may_reveal(
                escalation, case, member, case_id=req.case_id, requested_by=req.requested_by
            )

        async def opened(state: Opening) -> Opening:
            """What the record needs: the rules allow the reveal, and the vault opens the identity."""
            basis = allowed(state.member).basis
            registered = next(e for e in state.member if isinstance(e, MemberRegistered))
            fields = await asyncio.to_thread(self.vault.open, state.member_ref, registered)
            return Opening(state.member_ref, state.member, basis, fields)

        def record(state: Opening) -> list[Event]:
            return [
                IdentityDisclosed(
                    escalation_id=req.escalation_id,
                    case_id=req.case_id,
                    basis=state.basis,
                    requested_by=req.requested_by,
                    disclosed_to=req.disclosed_to,
                    fields=tuple(sorted(state.fields)),
                    reason=req.reason,
                )
            ]

        try:
            if member_ref is None:
                allowed([])  # the rules refuse a case without a member, saying why
                raise domain.Rejected("the member gave no identity")
            done = await decision.decide(
                self.store,
                Aggregate(req.agency, "member", member_ref),
                lambda history: Opening(member_ref, payloads(history)),
                record,
                source=SOURCE,
                inputs=opened,
            )
        except domain.Rejected as exc:
            return RevealReply(ok=False, refused=str(exc))
        except KeyUnavailable:
            return RevealReply(ok=False, refused="the member's identity was erased")
        except Busy:
            return RevealReply(ok=False, refused="the member's record is busy; ask again")
        return RevealReply(ok=True, fields=done.state.fields)

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
