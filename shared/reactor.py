"""Reactions: an event on the log (or a document in an inbox stream) → a handler; the one way to consume.

A reaction is written as faststream's documentation writes a subscriber, on a router the service's
composition root includes in its reaction broker (one router per app: a faststream router belongs to
one broker):

    async def page_next_tier(delivered: Delivered, commands: Commands = Depends(provided("commands"))):
        ...

    router = NatsRouter()
    reaction(router, consumer("escalation-missedpages"), workers=2)(page_next_tier)

- The body is a `Delivered` (the envelope, its typed event, its stream sequence) made by ONE decoder,
  the contract registry's (`decode`); an inbox of outside documents passes its own decoder, which raises
  `Undecodable` with a reason that quotes no value.
- Dependencies come through `Depends`; `provided(name)` hands out what the composition root gave
  `Reactions.provide`. A reaction that publishes declares its publisher on the router, so the AsyncAPI
  document (`faststream.specification.AsyncAPI(reactions.broker)`) lists what it sends and receives.
- Nothing is created on the server: the stream is bound with `declare=False` and the pull subscription
  binds the durable the provisioner made (shared/consumers), pulling into the service's private inbox
  prefix (the only one its bus identity may subscribe to).
- Every message is settled by shared.settlement: ack after success; undecodable → dead letter at once;
  a failing handler → nak with backoff, then dead letter with the reason.
- A reaction that decides a whole fetched batch at once uses shared.batches, settled the same way, and
  appears in the AsyncAPI document through `shared.batches.documented`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from faststream import Context
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.security import NatsNKey
from faststream.security import BaseSecurity
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel, ConfigDict, ValidationError

from shared import busclient
from shared.contracts.base import Event, UnknownEventType
from shared.envelope import STREAM, Envelope, read_event
from shared.items import describe
from shared.settings import ServiceSettings
from shared.settlement import Policy, Settlement, Undecodable
from shared.topology import Consumer

__all__ = ["Delivered", "Policy", "Reactions", "Undecodable", "decode", "decode_msg", "provided", "reaction"]
Decoder = Callable[[StreamMessage[Msg]], Awaitable[Any]]


class Delivered(BaseModel):
    """One event as a reaction receives it."""

    model_config = ConfigDict(frozen=True)

    env: Envelope
    event: Event
    seq: int
    headers: dict[str, str] = {}  # as delivered: trace context, message id


async def decode(msg: StreamMessage[Msg]) -> Delivered:
    """The one decoder for events on the log (faststream's decoder hook)."""
    return decode_msg(msg.raw_message)


def decode_msg(raw: Msg) -> Delivered:
    """An event as the log holds it: envelope, subject check, typed payload (the contract registry)."""
    try:
        env, event = read_event(raw.data, raw.subject)
    except (ValidationError, UnknownEventType, ValueError) as exc:
        raise Undecodable(describe(exc)) from exc
    return Delivered(env=env, event=event, seq=raw.metadata.sequence.stream, headers=raw.headers or {})


def provided(name: str) -> Callable[..., Any]:
    """A dependency on what the composition root set in the broker's context under `name`."""

    def dependency(value: Any = Context(name)) -> Any:
        return value

    return dependency


def reaction(
    router: NatsRouter,
    spec: Consumer,
    *,
    workers: int = 1,
    batch: int = 32,
    stream: str = STREAM,
    decoder: Decoder = decode,
    description: str = "",
) -> Any:
    """Declare the decorated handler as the reaction reading the provisioned durable `spec`."""
    if spec.read_all:
        raise ValueError(f"{spec.durable} reads the whole log: a reaction's durable is server-filtered")
    subject = spec.filter_subjects[0] if spec.filter_subjects else ">"
    return router.subscriber(
        subject,
        stream=JStream(stream, declare=False),
        durable=spec.durable,
        pull_sub=PullSub(batch_size=batch, timeout=1.0),
        max_workers=workers,
        ack_policy=AckPolicy.MANUAL,  # Settlement acks, naks and dead-letters
        decoder=decoder,
        title=spec.durable,
        description=described(spec, description),
    )


def described(spec: Consumer, how: str = "") -> str | None:
    """A durable's description for the AsyncAPI document (and how it is read), with the event types it
    delivers."""
    types = ", ".join(e.type_name() for e in spec.events)
    return "; ".join(filter(None, [spec.description, how, types and f"delivers {types}"])) or None


class Reactions:
    """A service's reaction broker: its bus identity, its routers, one Settlement."""

    def __init__(
        self,
        settings: ServiceSettings,
        *routers: NatsRouter,
        policy: Policy = Policy(),
        policies: Mapping[str, Policy] | None = None,
    ) -> None:
        bus = busclient.options(settings.bus_identity(), settings.nats_seed_file, settings.nats_ca_file)
        tls, seed = bus.pop("tls", None), bus.pop("nkeys_seed", None)
        security = NatsNKey.from_file(seed, ssl_context=tls) if seed else BaseSecurity(ssl_context=tls)
        self.inbox = f"{bus['inbox_prefix']}.".encode()
        self.settlement = Settlement(policy, policies)
        self.broker = NatsBroker(
            busclient.servers(settings.nats_url),  # one URL, or every node of a cluster
            middlewares=[NatsTelemetryMiddleware(), self.settlement],
            logger=None,
            max_reconnect_attempts=-1,
            security=security,
            **bus,
        )
        for router in routers:
            self.include(router)

    def include(self, router: NatsRouter) -> None:
        # Pull into the identity's own inbox prefix (the only one its bus identity may subscribe to): known
        # only here, once the settings name the identity, so set on each pull subscription's bind options.
        for sub in router.subscribers:
            cast(Any, sub).extra_options["inbox_prefix"] = self.inbox
        self.broker.include_router(router)

    def provide(self, **values: Any) -> None:
        """What `provided(name)` hands the reactions."""
        for name, value in values.items():
            self.broker.context.set_global(name, value)

    async def connect(self) -> JetStreamContext:
        await self.broker.connect()
        busclient.quick_headers(self.broker.connection)
        self.settlement.js = self.broker.connection.jetstream()
        return self.settlement.js

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect if not yet, react until `stop`, then leave the subscriptions (the durables stay)."""
        if self.settlement.js is None:
            await self.connect()
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
