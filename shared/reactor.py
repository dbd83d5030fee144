"""Reactions: an event on the log (or a document in an inbox stream) → a handler, the one way to consume.

A reaction is written as faststream's documentation writes a subscriber, on a router the service's
composition root includes in its broker:

    router = NatsRouter()

    @reaction(router, consumer("escalation-riskflags"), workers=8)
    async def raise_concern(delivered: Delivered, commands: Commands = Depends(provided("commands"))):
        ...

- The body is a `Delivered` (the envelope, its typed event, its stream sequence) made by ONE decoder,
  the contract registry's (`decode`); an inbox of outside documents passes its own decoder, which raises
  `Undecodable` with a reason that quotes no value.
- Dependencies come through `Depends`; `provided(name)` hands out what the composition root put in the
  broker's context (`broker.context.set_global(name, value)`). A reaction that publishes declares its
  publisher on the router, so the AsyncAPI document (`faststream.specification.AsyncAPI`) lists it.
- Nothing is created on the server: the stream is bound with `declare=False` and the pull subscription
  binds the durable the provisioner made (shared/consumers), pulling into the service's private inbox
  prefix (the only one its bus identity may subscribe to).

`Settlement`, the reaction broker's middleware, decides every message's fate in ONE place:
decoded and handled → ack; undecodable → dead-lettered at once with the reason (shared.dlq), acked;
the handler raised → nak with a growing delay (the worker moves on meanwhile) until the delivery count
reaches `max_deliveries`, then dead-lettered with the reason, acked. One bad event never stalls the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from faststream import BaseMiddleware, Context
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.security import NatsNKey
from faststream.security import BaseSecurity
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, ValidationError

from shared import busclient
from shared.contracts.base import Event, UnknownEventType
from shared.dlq import dead_letter
from shared.envelope import STREAM, Envelope, read_event
from shared.items import describe
from shared.settings import ServiceSettings
from shared.topology import Consumer

log = logging.getLogger("peerline.reactor")
HANDLED = Counter("peerline_reaction_events_total", "events a reaction handled", ["consumer"])
RETRIED = Counter("peerline_reaction_retries_total", "deliveries a reaction failed and naked", ["consumer"])
DEAD = Counter("peerline_reaction_dead_letters_total", "events a reaction dead-lettered", ["consumer"])
Decoder = Callable[[StreamMessage[Msg]], Awaitable[Any]]


class Delivered(BaseModel):
    """One event as a reaction receives it."""

    model_config = ConfigDict(frozen=True)

    env: Envelope
    event: Event
    seq: int


class Undecodable(Exception):
    """The message is no valid input: dead-lettered at once, never retried. The reason quotes no value."""


async def decode(msg: StreamMessage[Msg]) -> Delivered:
    """The one decoder for events on the log: envelope, subject check, typed payload (contract registry)."""
    raw = msg.raw_message
    try:
        env, event = read_event(raw.data, raw.subject)
    except (ValidationError, UnknownEventType, ValueError) as exc:
        raise Undecodable(describe(exc)) from exc
    return Delivered(env=env, event=event, seq=raw.metadata.sequence.stream)


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
) -> Any:
    """Declare the decorated handler as the reaction reading the provisioned durable `spec`."""
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
        description=spec.description or None,
    )


@dataclass(frozen=True)
class Policy:
    """How a durable's failures are settled."""

    max_deliveries: int = 5
    backoff_s: float = 0.1  # the n-th failed delivery comes back after backoff_s * 2**n
    dlq_ttl_s: int | None = None  # dead letters holding raw outside data expire (shared.dlq)


class Settlement:
    """Acks, naks and dead letters for every reaction of one broker (its middleware factory)."""

    def __init__(self, default: Policy, policies: Mapping[str, Policy] | None = None) -> None:
        self.default, self.policies = default, dict(policies or {})
        self.js: JetStreamContext | None = None  # set once the broker is connected

    def __call__(self, msg: Any, /, *, context: Any) -> _Settle:
        return _Settle(msg, context=context, settlement=self)

    async def settle(self, raw: Msg, handle: Callable[[], Awaitable[Any]]) -> Any:
        durable = raw.metadata.consumer or ""
        policy = self.policies.get(durable, self.default)
        try:
            result = await handle()
        except Undecodable as exc:
            await self.dead(raw, policy, str(exc))
            return None
        except Exception as exc:
            await self.failed(raw, policy, describe(exc))
            return None
        HANDLED.labels(durable).inc()
        await raw.ack()
        return result

    async def failed(self, raw: Msg, policy: Policy, reason: str) -> None:
        """A handler failed on `raw`: nak it with a delay, or dead-letter it once it failed often enough."""
        delivered = raw.metadata.num_delivered or 1
        durable, seq = raw.metadata.consumer or "", raw.metadata.sequence.stream
        if delivered < policy.max_deliveries:
            log.warning("%s: seq %d failed (delivery %d): %s", durable, seq, delivered, reason)
            RETRIED.labels(durable).inc()
            await raw.nak(delay=policy.backoff_s * 2**delivered)
            return
        log.error("%s: seq %d dead-lettered after %d deliveries", durable, seq, delivered)
        await self.dead(raw, policy, f"failed {delivered} times: {reason}")

    async def dead(self, raw: Msg, policy: Policy, reason: str) -> None:
        assert self.js is not None, "connect the reaction broker first"
        durable = raw.metadata.consumer or ""
        DEAD.labels(durable).inc()
        await dead_letter(
            self.js,
            durable,
            subject=raw.subject,
            seq=raw.metadata.sequence.stream,
            data=raw.data,
            headers=raw.headers,
            reason=reason,
            ttl_s=policy.dlq_ttl_s,
        )
        await raw.ack()


class _Settle(BaseMiddleware):
    """Wraps the decoding and the handling of one message (faststream decodes inside consume_scope)."""

    def __init__(self, msg: Any, /, *, context: Any, settlement: Settlement) -> None:
        super().__init__(msg, context=context)
        self.settlement = settlement

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        return await self.settlement.settle(msg.raw_message, lambda: call_next(msg))


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
            settings.nats_url,
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
