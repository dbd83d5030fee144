"""Escalation's reactions (thin): a risk flag raises a concern; each tier paged is announced on
`notify.<agency>.<role>` for pager/SMS adapters and the console; a page notify could not deliver to
anyone pages the next tier at once.

Each is a reaction (shared.reactor) on a durable provisioned in shared/consumers/escalation.py, bound
by `routes()`; the composition root provides `commands`, `risk_flag_category` and `pages`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from faststream import Depends
from faststream.nats import NatsRouter
from faststream.nats.publisher.usecase import LogicPublisher
from opentelemetry import propagate

from services.escalation import domain
from services.escalation.commands import Commands
from services.escalation.domain.policies import FALLBACK
from shared.contracts.escalation import (
    NOTIFY_SUBJECT,
    EscalationTierAdvanced,
    EscalationTriggered,
    TierNotification,
)
from shared.contracts.notify import PageMissed
from shared.contracts.tracking import ContactLogged
from shared.envelope import Envelope
from shared.reactor import Delivered, provided, reaction
from shared.topology import consumer


def escalation_id_for(contact: Envelope) -> str:
    """One escalation per flagged contact report, however often the report is delivered."""
    return "x-" + uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-risk-flag/{contact.id}").hex


def page(env: Envelope, esc: domain.Escalation, tier: int, escalation_id: str) -> TierNotification:
    """The page for `tier`, from the escalation's state and the event that put that tier on duty."""
    within = esc.chain[tier - 1].ack_within_s if len(esc.chain) >= tier else 600
    return TierNotification(
        escalation_id=escalation_id,
        case_id=esc.case_id,
        agency=env.agency,
        category=esc.category,
        tier=tier,
        role=esc.role(tier) if len(esc.chain) >= tier else "clinician",
        deadline=env.time + timedelta(seconds=within),
        disclosable=esc.disclosable,
        event_id=env.id,
    )


async def raise_concern(
    delivered: Delivered,
    commands: Commands = Depends(provided("commands")),
    category: domain.ConcernCategory = Depends(provided("risk_flag_category")),
) -> None:
    """A contact logged with a risk flag raises a concern (one escalation per report)."""
    env, event = delivered.env, delivered.event
    if not isinstance(event, ContactLogged) or not event.risk_flag:
        return
    cmd = domain.RaiseConcern(
        case_id=env.subject, category=category, raised_by_role="peer", raised_by=event.peer_ref
    )
    await commands.raise_concern(env.agency, escalation_id_for(env), cmd, cause=env, fallback=FALLBACK)


async def page_next_tier(delivered: Delivered, commands: Commands = Depends(provided("commands"))) -> None:
    """A page that reached nobody pages the next tier at once."""
    if isinstance(event := delivered.event, PageMissed):
        await commands.advance(delivered.env.agency, event.escalation_id, event.tier)


async def announce_page(
    delivered: Delivered,
    commands: Commands = Depends(provided("commands")),
    pages: LogicPublisher = Depends(provided("pages")),
) -> None:
    """Each tier put on duty is paged on notify.<agency>.<role>."""
    env, event = delivered.env, delivered.event
    if isinstance(event, EscalationTriggered):
        esc = domain.evolve(domain.Escalation(), event)  # everything a tier-1 page needs is in the event
        note = page(env, esc, 1, env.subject)
    elif isinstance(event, EscalationTierAdvanced):
        esc, _ = await commands.load(env.agency, env.subject)
        note = page(env, esc, event.tier, env.subject)
    else:
        return
    headers = {"Peerline-Event-Id": env.id}
    propagate.inject(headers)
    await pages.publish(
        note, subject=NOTIFY_SUBJECT.format(agency=env.agency, role=note.role), headers=headers
    )


def routes() -> tuple[NatsRouter, LogicPublisher]:
    """Escalation's reactions and the publisher they page on (one router per app: a faststream router
    belongs to one broker). Each page and flagged contact stands alone, so several are handled at once."""
    router = NatsRouter()
    reaction(router, consumer("escalation-riskflags"), workers=8)(raise_concern)
    reaction(router, consumer("escalation-missedpages"), workers=2)(page_next_tier)
    reaction(router, consumer("escalation-notifier"), workers=4)(announce_page)
    pages = router.publisher(
        NOTIFY_SUBJECT,
        schema=TierNotification,
        title="notify.{agency}.{role}",
        description="each tier paged, for pager/SMS adapters and the console",
    )
    return router, pages
