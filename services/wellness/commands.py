"""Wellness's decisions through shared.decision, bound to its event store, clock and source.

Event ids: a timer's decision passes a command id (the timer, or the event that led to it), so the same
decision taken twice (a timer fired again after a crash) is one event in the log; others are random.
"""

from __future__ import annotations

from collections.abc import Callable

from shared import decision
from shared.clock import Clock
from shared.contracts.base import Event
from shared.decision import Aggregate, Cause
from shared.envelope import Envelope
from shared.eventstore import EventStore, History

SOURCE = "peerline/wellness"
Decide = Callable[[History], list[Event]]
__all__ = ["SOURCE", "Cause", "Decide", "Writer"]


class Writer:
    def __init__(self, store: Callable[[], EventStore], clock: Clock) -> None:
        self.store, self.clock = store, clock

    async def decide(
        self,
        agency: str,
        aggregate: str,
        aggregate_id: str,
        decide: Decide,
        cause: Envelope | Cause | None = None,
        command_id: str | None = None,
    ) -> list[Event]:
        """Append what `decide` returns; returns it ([] when there was nothing to do). Raises Busy."""
        done = await decision.decide(
            self.store(),
            Aggregate(agency, aggregate, aggregate_id),
            lambda history: history,
            decide,
            source=SOURCE,
            clock=self.clock,
            command_id=command_id,
            cause=cause,
        )
        return done.events

    async def create(
        self, agency: str, aggregate_id: str, events: list[Event], cause: Envelope | Cause | None = None
    ) -> bool:
        """Start a new aggregate with `events` (expected version 0, no load first). False if it exists."""
        aggregate = Aggregate(agency, events[0].aggregate, aggregate_id)
        version = await decision.create(
            self.store(), aggregate, events, source=SOURCE, clock=self.clock, command_id="create", cause=cause
        )
        return version is not None
