"""How a reaction settles each message, in ONE place: ack, nak with backoff, dead letter with the reason.

Decoded and handled → ack. Undecodable → dead-lettered at once with the reason (shared.dlq), acked.
The handler raised → nak with a growing delay (the worker moves on meanwhile) until the delivery count
reaches the policy's `max_deliveries`, then dead-lettered with the reason, acked. One bad event never
stalls the rest. The log unreachable or contended (a NATS error or time-out — a node failing over — or
`Busy`) is no fault of the message: naked with a delay capped at `unavailable_s`, never dead-lettered.
Used as the reaction broker's faststream middleware (shared.reactor) and by the
batched pull loop (shared.batches).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from prometheus_client import Counter

from shared.decision import Busy
from shared.dlq import dead_letter
from shared.items import describe

log = logging.getLogger("peerline.reactor")
HANDLED = Counter("peerline_reaction_events_total", "events a reaction handled", ["consumer"])
RETRIED = Counter("peerline_reaction_retries_total", "deliveries a reaction failed and naked", ["consumer"])
DEAD = Counter("peerline_reaction_dead_letters_total", "events a reaction dead-lettered", ["consumer"])


class Undecodable(Exception):
    """The message is no valid input: dead-lettered at once, never retried. The reason quotes no value."""


@dataclass(frozen=True)
class Policy:
    """How a durable's failures are settled."""

    max_deliveries: int = 5
    backoff_s: float = 0.1  # the n-th failed delivery comes back after backoff_s * 2**n
    dlq_ttl_s: int | None = None  # dead letters holding raw outside data expire (shared.dlq)
    unavailable_s: float = 5.0  # the longest wait before a message that met an unavailable log comes back


class Settlement:
    """Acks, naks and dead letters for every reaction of one broker (its middleware factory)."""

    def __init__(self, default: Policy = Policy(), policies: Mapping[str, Policy] | None = None) -> None:
        self.default, self.policies = default, dict(policies or {})
        self.js: JetStreamContext | None = None  # set once connected

    def policy(self, durable: str) -> Policy:
        return self.policies.get(durable, self.default)

    def __call__(self, msg: Any, /, *, context: Any) -> _Settle:
        return _Settle(msg, context=context, settlement=self)

    async def settle(self, raw: Msg, handle: Callable[[], Awaitable[Any]]) -> Any:
        """Run `handle` (decoding and handling `raw`) and settle `raw` by how it ended."""
        try:
            result = await handle()
        except Undecodable as exc:
            await self.dead(raw, str(exc))
            return None
        except Exception as exc:
            await self.failed(raw, exc)
            return None
        await self.done(raw)
        return result

    async def done(self, raw: Msg) -> None:
        HANDLED.labels(raw.metadata.consumer or "").inc()
        await raw.ack()

    async def failed(self, raw: Msg, failure: BaseException) -> None:
        """A handler failed on `raw`: nak it with a delay, or dead-letter it once it failed often enough."""
        reason = describe(failure) if isinstance(failure, Exception) else type(failure).__name__
        delivered = raw.metadata.num_delivered or 1
        durable, seq = raw.metadata.consumer or "", raw.metadata.sequence.stream
        policy = self.policy(durable)
        if isinstance(failure, NatsError | TimeoutError | Busy):  # the log, not the message: try again
            log.warning("%s: seq %d waits for the log (delivery %d): %s", durable, seq, delivered, reason)
            RETRIED.labels(durable).inc()
            await raw.nak(delay=min(policy.backoff_s * 2**delivered, policy.unavailable_s))
            return
        if delivered < policy.max_deliveries:
            log.warning("%s: seq %d failed (delivery %d): %s", durable, seq, delivered, reason)
            RETRIED.labels(durable).inc()
            await raw.nak(delay=policy.backoff_s * 2**delivered)
            return
        log.error("%s: seq %d dead-lettered after %d deliveries", durable, seq, delivered)
        await self.dead(raw, f"failed {delivered} times: {reason}")

    async def dead(self, raw: Msg, reason: str) -> None:
        assert self.js is not None, "connect first"
        durable = raw.metadata.consumer or ""
        policy = self.policy(durable)
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
