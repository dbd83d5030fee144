"""Escalation's reactions (thin): a risk flag raises a concern and pages tier 1 in the same handler; each
later tier paged is announced on `notify.<agency>.<role>` for pager/SMS adapters and the console; a page
notify could not deliver to anyone pages the next tier at once.

Each reads a durable provisioned in shared/consumers/escalation.py. The later-tier and missed-page
reactions are shared.reactor's (bound by `routes()`). The risk-flag reaction, the one a person in danger
waits on, is the reactor's batch option (shared.batches, `risk_flags()`): it reads its durable without
faststream's per-message machinery, which cost as much CPU as raising the concern itself
(`python -m bench.escalation`), and is documented for the AsyncAPI document by `documentation()`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from faststream.nats import NatsRouter
from faststream.nats.publisher.usecase import LogicPublisher
from nats.aio.client import Client
from opentelemetry import propagate, trace

from services.escalation import domain
from services.escalation.commands import Commands
from services.escalation.domain.policies import FALLBACK
from shared.batches import BatchReaction, Results, documented, each
from shared.contracts.escalation import NOTIFY_SUBJECT, EscalationTierAdvanced, TierNotification
from shared.contracts.notify import PageMissed
from shared.contracts.tracking import ContactLogged
from shared.envelope import Envelope
from shared.reactor import Delivered, reaction
from shared.settlement import Policy, Settlement
from shared.topology import consumer

RISK_FLAGS = consumer("escalation-riskflags")
_tracer = trace.get_tracer("peerline.escalation")


def escalation_id_for(contact: Envelope) -> str:
    """One escalation per flagged contact report, however often the report is delivered."""
    return "x-" + uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-risk-flag/{contact.id}").hex


def unwired() -> Commands:
    raise RuntimeError("escalation's reactions have no commands wired")


def routes(commands: Callable[[], Commands] = unwired) -> tuple[NatsRouter, LogicPublisher]:
    """Escalation's later-tier and missed-page reactions and the publisher pages go out on (one router per
    app: a faststream router belongs to one broker). `commands` gives the composition root's command
    handlers.

    The handlers close over what they need: each `Depends`/`Context` parameter costs a hop to a worker
    thread per message (fast-depends runs sync resolvers there), which the page waits for. Each page
    stands alone, so several are handled at once."""
    router = NatsRouter()

    async def page_next_tier(delivered: Delivered) -> None:
        """A page that reached nobody pages the next tier at once."""
        if isinstance(event := delivered.event, PageMissed):
            await commands().advance(delivered.env.agency, event.escalation_id, event.tier)

    async def announce_page(delivered: Delivered) -> None:
        """Each later tier put on duty is paged on notify.<agency>.<role> (tier 1 is paged by the append
        that triggers the escalation, in one hop)."""
        env, event = delivered.env, delivered.event
        if isinstance(event, EscalationTierAdvanced):
            esc, _ = await commands().load(env.agency, env.subject)
            await commands().page(env, esc, event.tier)

    reaction(router, consumer("escalation-missedpages"), workers=2, batch=1)(page_next_tier)
    reaction(router, consumer("escalation-notifier"), workers=4, batch=1)(announce_page)
    pages = router.publisher(
        NOTIFY_SUBJECT,
        schema=TierNotification,
        title="notify.{agency}.{role}",
        description="each tier paged, for pager/SMS adapters and the console",
    )
    return router, pages


class RiskFlags:
    """The risk-flag reaction's handler (shared.batches): every report of a fetched batch is handled at once
    and on its own, so one slow append holds up no other report; each in a span continuing the trace of
    the report that raised it."""

    def __init__(self, commands: Callable[[], Commands], category: domain.ConcernCategory) -> None:
        self.commands, self.category = commands, category

    async def prepare(self, batch: list[Delivered]) -> tuple[list[Delivered], Results]:
        return batch, [None] * len(batch)

    async def complete(self, batch: list[Delivered]) -> Results:
        return await each(self.raise_concern(d) for d in batch)

    async def raise_concern(self, delivered: Delivered) -> None:
        """A contact logged with a risk flag raises a concern (one escalation per report) and pages tier 1
        at once; a redelivery pages it again only as the same page, and the same report appended again
        after its escalation pages nothing (Commands.raise_concern)."""
        env, event = delivered.env, delivered.event
        if not isinstance(event, ContactLogged) or not event.risk_flag:
            return
        cmd = domain.RaiseConcern(
            case_id=env.subject, category=self.category, raised_by_role="peer", raised_by=event.peer_ref
        )
        context = propagate.extract(delivered.headers)
        span = _tracer.start_span("contact_logged process", context=context, kind=trace.SpanKind.CONSUMER)
        with trace.use_span(span, end_on_exit=True):
            await self.commands().raise_concern(
                env.agency, escalation_id_for(env), cmd, cause=env, fallback=FALLBACK, after=delivered.seq
            )


def risk_flags(
    nc: Client, commands: Callable[[], Commands], category: domain.ConcernCategory, max_deliveries: int
) -> BatchReaction:
    """The risk-flag reaction: one message fetched at a time (answered the moment a report arrives), up to
    eight reports being handled at once."""
    settlement = Settlement(Policy(max_deliveries))
    return BatchReaction(nc, RISK_FLAGS, RiskFlags(commands, category), settlement, batch=1, in_flight=8)


def documentation() -> NatsRouter:
    """The risk-flag reaction as the AsyncAPI document shows it (shared.batches.documented)."""
    return documented(RISK_FLAGS, "each report handled as it arrives, several at once")
