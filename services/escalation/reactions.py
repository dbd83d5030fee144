"""Escalation's reactions (thin): a risk flag raises a concern and pages tier 1 in the same handler; each
later tier paged is announced on `notify.<agency>.<role>` for pager/SMS adapters and the console; a page
notify could not deliver to anyone pages the next tier at once.

Each is a reaction (shared.reactor) on a durable provisioned in shared/consumers/escalation.py, bound
by `routes()`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from faststream.nats import NatsRouter
from faststream.nats.publisher.usecase import LogicPublisher

from services.escalation import domain
from services.escalation.commands import Commands
from services.escalation.domain.policies import FALLBACK
from shared.contracts.escalation import NOTIFY_SUBJECT, EscalationTierAdvanced, TierNotification
from shared.contracts.notify import PageMissed
from shared.contracts.tracking import ContactLogged
from shared.envelope import Envelope
from shared.reactor import Delivered, reaction
from shared.topology import consumer


def escalation_id_for(contact: Envelope) -> str:
    """One escalation per flagged contact report, however often the report is delivered."""
    return "x-" + uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-risk-flag/{contact.id}").hex


# Pull loops on the risk-flag durable, each fetching one message at a time: a fetch of more waits for the
# batch to fill (or its time-out) when the log is quiet; one loop alone waits a round trip per message.
FETCHERS = 4


def unwired() -> Commands:
    raise RuntimeError("escalation's reactions have no commands wired")


def routes(
    commands: Callable[[], Commands] = unwired, category: domain.ConcernCategory = "imminent_self_harm"
) -> tuple[NatsRouter, LogicPublisher]:
    """Escalation's reactions and the publisher they page on (one router per app: a faststream router
    belongs to one broker). `commands` gives the composition root's command handlers (which page through
    the publisher returned here); `category` is what a risk flag is escalated as.

    The handlers close over what they need: each `Depends`/`Context` parameter costs a hop to a worker
    thread per message (fast-depends runs sync resolvers there), which the page waits for. Each page and
    flagged contact stands alone, so several are handled at once, each fetched as it comes (see
    FETCHERS)."""
    router = NatsRouter()

    async def raise_concern(delivered: Delivered) -> None:
        """A contact logged with a risk flag raises a concern (one escalation per report) and pages tier 1
        at once; a redelivery pages it again only as the same page, and the same report appended again
        after its escalation pages nothing (Commands.raise_concern)."""
        env, event = delivered.env, delivered.event
        if not isinstance(event, ContactLogged) or not event.risk_flag:
            return
        cmd = domain.RaiseConcern(
            case_id=env.subject, category=category, raised_by_role="peer", raised_by=event.peer_ref
        )
        await commands().raise_concern(
            env.agency, escalation_id_for(env), cmd, cause=env, fallback=FALLBACK, after=delivered.seq
        )

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

    for _ in range(FETCHERS):  # as replicas sharing the durable would: one slow reply holds up no other
        reaction(router, consumer("escalation-riskflags"), workers=2, batch=1)(raise_concern)
    reaction(router, consumer("escalation-missedpages"), workers=2, batch=1)(page_next_tier)
    reaction(router, consumer("escalation-notifier"), workers=4, batch=1)(announce_page)
    pages = router.publisher(
        NOTIFY_SUBJECT,
        schema=TierNotification,
        title="notify.{agency}.{role}",
        description="each tier paged, for pager/SMS adapters and the console",
    )
    return router, pages
