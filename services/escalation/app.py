"""Escalation's reactors (thin): a risk flag raises a concern; each tier paged is announced on
`notify.<agency>.<role>` for pager/SMS adapters and the console; a page notify could not deliver to
anyone pages the next tier at once.

Each is a faststream pull subscriber bound to durables provisioned in shared/consumers/escalation.py.
Bad input is dead-lettered at once; a failing handler is redelivered a bounded number of times, then
dead-lettered — never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.security import NatsNKey
from faststream.security import BaseSecurity
from nats.js import JetStreamContext
from opentelemetry import propagate

from services.escalation import domain
from services.escalation.commands import Commands
from services.escalation.policies import FALLBACK
from services.escalation.settings import EscalationSettings
from shared import busclient
from shared.contracts.base import Event
from shared.contracts.escalation import (
    NOTIFY_SUBJECT,
    EscalationTierAdvanced,
    EscalationTriggered,
    TierNotification,
)
from shared.contracts.notify import PageMissed
from shared.contracts.tracking import ContactLogged
from shared.dlq import dead_letter
from shared.envelope import STREAM, Envelope, read_event
from shared.eventstore import EventStore
from shared.items import describe
from shared.topology import consumer

log = logging.getLogger("peerline.escalation")
NOTIFIER = consumer("escalation-notifier")
RISK_FLAGS = consumer("escalation-riskflags")
MISSED_PAGES = consumer("escalation-missedpages")


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


class Reactors:
    def __init__(self, commands: Commands, risk_flag_category: domain.ConcernCategory) -> None:
        self.commands = commands
        self.risk_flag_category = risk_flag_category
        self.js: JetStreamContext | None = None
        self.publish: Callable[[str, bytes, dict[str, str]], Awaitable[None]] | None = None

    async def on_contact(self, env: Envelope, event: Event) -> None:
        if not isinstance(event, ContactLogged) or not event.risk_flag:
            return
        cmd = domain.RaiseConcern(
            case_id=env.subject,
            category=self.risk_flag_category,
            raised_by_role="peer",
            raised_by=event.peer_ref,
        )
        await self.commands.raise_concern(
            env.agency, escalation_id_for(env), cmd, cause=env, fallback=FALLBACK
        )

    async def on_missed_page(self, env: Envelope, event: Event) -> None:
        if isinstance(event, PageMissed):
            await self.commands.advance(env.agency, event.escalation_id, event.tier)

    async def on_escalation(self, env: Envelope, event: Event) -> None:
        assert self.publish is not None, "connect first"
        if isinstance(event, EscalationTriggered):
            esc = domain.evolve(domain.Escalation(), event)  # everything a tier-1 page needs is in the event
            note = page(env, esc, 1, env.subject)
        elif isinstance(event, EscalationTierAdvanced):
            esc, _ = await self.commands.load(env.agency, env.subject)
            note = page(env, esc, event.tier, env.subject)
        else:
            return
        headers = {"Peerline-Event-Id": env.id}
        propagate.inject(headers)
        await self.publish(
            NOTIFY_SUBJECT.format(agency=env.agency, role=note.role), note.model_dump_json().encode(), headers
        )


async def raw_body(msg: Any) -> bytes:
    return bytes(msg.body)


Handler = Callable[[Envelope, Event], Awaitable[None]]


def subscribe(
    broker: NatsBroker,
    reactors: Reactors,
    durable: str,
    handle: Handler,
    max_deliveries: int,
    workers: int,
    inbox: bytes,
) -> None:
    spec = consumer(durable)

    async def on_message(body: bytes, msg: NatsMessage) -> None:
        raw = msg.raw_message
        assert reactors.js is not None

        async def to_dlq(reason: str) -> None:
            assert reactors.js is not None
            await dead_letter(
                reactors.js,
                durable,
                subject=raw.subject,
                seq=raw.metadata.sequence.stream,
                data=body,
                headers=raw.headers,
                reason=reason,
            )

        try:
            env, event = read_event(body, raw.subject)
        except (ValueError, LookupError) as exc:  # invalid, or a type this service does not know
            await to_dlq(describe(exc))
            return
        try:
            await handle(env, event)
        except Exception as exc:
            delivered = raw.metadata.num_delivered or 1
            if delivered < max_deliveries:
                await asyncio.sleep(0.1 * 2**delivered)
                raise  # nack: redelivered
            log.error(
                "%s: seq %d dead-lettered after %d deliveries",
                durable,
                raw.metadata.sequence.stream,
                delivered,
            )
            await to_dlq(f"failed {delivered} times: {describe(exc)}")

    broker.subscriber(
        spec.filter_subjects[0],
        stream=JStream(STREAM, declare=False),
        durable=spec.durable,
        pull_sub=PullSub(batch_size=32, timeout=1.0),
        max_workers=workers,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # faststream would pull into `_INBOX.…`; the bus lets escalation subscribe to its own inbox only
        inbox_prefix=inbox,
        decoder=raw_body,
    )(on_message)


def build_broker(settings: EscalationSettings, reactors: Reactors) -> NatsBroker:
    max_deliveries = settings.max_deliveries
    bus = busclient.options(settings.bus_identity(), settings.nats_seed_file, settings.nats_ca_file)
    tls, seed = bus.pop("tls", None), bus.pop("nkeys_seed", None)
    security = NatsNKey.from_file(seed, ssl_context=tls) if seed else BaseSecurity(ssl_context=tls)
    broker = NatsBroker(
        busclient.servers(settings.nats_url),
        middlewares=[NatsTelemetryMiddleware()],
        logger=None,
        max_reconnect_attempts=-1,
        security=security,
        **bus,
    )
    # each page and each flagged contact stands alone, so several are handled at once
    inbox = f"{bus['inbox_prefix']}.".encode()
    subscribe(broker, reactors, NOTIFIER.durable, reactors.on_escalation, max_deliveries, 4, inbox)
    subscribe(broker, reactors, RISK_FLAGS.durable, reactors.on_contact, max_deliveries, 8, inbox)
    subscribe(broker, reactors, MISSED_PAGES.durable, reactors.on_missed_page, max_deliveries, 2, inbox)
    return broker


def connect(reactors: Reactors, broker: NatsBroker) -> EventStore:
    nc = broker.connection
    reactors.js = nc.jetstream()

    async def publish(subject: str, data: bytes, headers: dict[str, str]) -> None:
        await nc.publish(subject, data, headers=headers)

    reactors.publish = publish
    return EventStore(reactors.js)
