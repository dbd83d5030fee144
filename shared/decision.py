"""Carrying out a command on one aggregate, the one way every service does it.

Load the aggregate (`EventStore.load`), fold its history into the state the rules need (pure), decide
(pure: events, or a domain rejection raised), append at the version decided on (several events: one
atomic write). On a conflict — someone appended since the load — load and decide again, a bounded
number of times with jittered backoff, then give up with `Busy` (an HTTP API answers 503 with
Retry-After, see shared.httpapi; a reaction retries it later).

Event ids follow one rule (`event_ids`): derived from a command id and the event's place when the same
command carried out again must land once (a redelivered event, a timer fired twice, a client retrying);
random otherwise. Every event of one decision has its own id.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.clock import Clock
from shared.contracts.base import Event
from shared.envelope import Envelope, aggregate_filter, new_id
from shared.eventstore import ConcurrencyConflict, EventStore, History
from shared.timers import Timer, firing

ATTEMPTS = 10
BACKOFF_S = 0.005  # the first retry waits up to this long; each next one up to twice the last
BACKOFF_CAP_S = 0.25
S = TypeVar("S")


class Busy(Exception):
    """The aggregate kept changing under the decision: nothing of it was appended; try again shortly."""

    def __init__(self, aggregate: Aggregate, attempts: int) -> None:
        super().__init__(f"{aggregate.filter} kept changing ({attempts} attempts)")
        self.kind = aggregate.kind


@dataclass(frozen=True)
class Aggregate:
    """One aggregate instance: `ev.<agency>.<kind>.<id>.>`."""

    agency: str
    kind: str
    id: str

    @property
    def filter(self) -> str:
        return aggregate_filter(self.agency, self.kind, self.id)


@dataclass(frozen=True)
class Cause:
    """The event a decision follows from, as far as new events need it (its id and correlation), so it
    can travel without the envelope."""

    id: str
    correlationid: str

    @classmethod
    def of(cls, env: Envelope) -> Cause:
        return cls(env.id, env.correlationid or env.id)


@dataclass(frozen=True)
class Decided(Generic[S]):
    """What a decision found and did: the state it was made on, the events appended (none: nothing to
    do) as they were stored, and the aggregate's version after them (the loaded one when nothing was
    appended)."""

    state: S
    events: list[Event]
    envelopes: list[Envelope]
    version: int


def event_ids(aggregate: Aggregate, count: int, command_id: str | None) -> list[str]:
    """The ids of a decision's events: from the command id and each event's place when given (the same
    command again is the same events, stored once), else random."""
    if command_id is None:
        return [new_id("e") for _ in range(count)]
    key = f"peerline/{aggregate.agency}/{aggregate.kind}/{aggregate.id}/{command_id}"
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}/{i}")) for i in range(count)]


def fired(timer: Timer) -> str:
    """The command id of a timer's firing (`shared.timers.firing`): one scheduling fired twice decides
    once; the timer scheduled again, even for the same instant, decides again."""
    return f"timer/{firing(timer)}"


def payloads(history: History) -> list[Event]:
    """The typed events of a history, for the many folds that take a plain list."""
    return [s.envelope.payload() for s in history.events]


def wrap(
    aggregate: Aggregate,
    events: Sequence[Event],
    *,
    source: str,
    ids: Sequence[str],
    clock: Clock | None = None,
    cause: Envelope | Cause | None = None,
) -> list[Envelope]:
    """A decision's events in envelopes of `aggregate`, with the given ids, carrying on the cause's trail."""
    now = clock.now() if clock is not None else None
    cause_env = cause if isinstance(cause, Envelope) else None
    envs = [
        Envelope.wrap(
            e, agency=aggregate.agency, subject=aggregate.id, source=source, time=now, cause=cause_env, id=i
        )
        for e, i in zip(events, ids, strict=True)
    ]
    if isinstance(cause, Cause):
        trail = {"correlationid": cause.correlationid, "causationid": cause.id}
        envs = [env.model_copy(update=trail) for env in envs]
    return envs


async def decide(
    store: EventStore,
    aggregate: Aggregate,
    fold: Callable[[History], S],
    rule: Callable[[S], Sequence[Event]],
    *,
    source: str,
    clock: Clock | None = None,
    command_id: str | None = None,
    cause: Envelope | Cause | Callable[[History], Envelope | None] | None = None,
    inputs: Callable[[S], Awaitable[S]] | None = None,
    holding: Callable[[Sequence[Event]], AbstractContextManager[object]] | None = None,
    attempts: int = ATTEMPTS,
) -> Decided[S]:
    """Load `aggregate`, fold it, apply `rule`, append what it returns at the version loaded; on a conflict
    do it all again. `inputs` adds what else the rule needs (e.g. a view read) after each load; `holding`
    is entered around the append (e.g. to show a pick to concurrent decisions). Raises whatever `rule`
    raises, and Busy after `attempts` conflicts."""
    for attempt in range(attempts):
        if attempt:  # full jitter: a random wait below a ceiling that doubles each time
            ceiling = min(BACKOFF_CAP_S, BACKOFF_S * 2 ** (attempt - 1))
            await asyncio.sleep(random.uniform(0, ceiling))  # noqa: S311  (jitter, not a secret)
        history = await store.load(aggregate.agency, aggregate.kind, aggregate.id)
        state = fold(history)
        if inputs is not None:
            state = await inputs(state)
        events = list(rule(state))
        if not events:
            return Decided(state, [], [], history.version)
        by = cause(history) if callable(cause) else cause
        ids = event_ids(aggregate, len(events), command_id)
        envs = wrap(aggregate, events, source=source, ids=ids, clock=clock, cause=by)
        try:
            with holding(events) if holding is not None else nullcontext():
                version = await store.append(envs, expected=history.version)
        except ConcurrencyConflict:
            continue
        return Decided(state, events, envs, version)
    raise Busy(aggregate, attempts)


async def create(
    store: EventStore,
    aggregate: Aggregate,
    events: Sequence[Event],
    *,
    source: str,
    clock: Clock | None = None,
    command_id: str | None = None,
    cause: Envelope | Cause | None = None,
) -> int | None:
    """Start a new aggregate with `events` (expected version 0, no load first): its version, or None if
    it exists already."""
    ids = event_ids(aggregate, len(events), command_id)
    envs = wrap(aggregate, events, source=source, ids=ids, clock=clock, cause=cause)
    try:
        return await store.append(envs, expected=0)
    except ConcurrencyConflict:
        return None
