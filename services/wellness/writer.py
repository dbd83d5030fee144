"""Decide on a freshly loaded aggregate and append with its version; on a conflict, load and decide again.

Event ids are derived from the aggregate id, the version decided on and the event's place, so the same
decision taken twice (a timer fired again after a crash) is one event in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.clock import Clock
from shared.contracts.base import Event
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict, EventStore, History

SOURCE = "peerline/wellness"
Decide = Callable[[History], list[Event]]


@dataclass(frozen=True)
class Cause:
    """The event a decision follows from, as far as new events need it: its id and its correlation
    (what Envelope.wrap takes from a cause envelope), so it can travel without the envelope."""

    id: str
    correlationid: str

    @classmethod
    def of(cls, env: Envelope) -> Cause:
        return cls(env.id, env.correlationid or env.id)


class Writer:
    def __init__(self, store: Callable[[], EventStore], clock: Clock, attempts: int = 10) -> None:
        self.store, self.clock, self.attempts = store, clock, attempts

    async def decide(
        self,
        agency: str,
        aggregate: str,
        aggregate_id: str,
        decide: Decide,
        cause: Envelope | Cause | None = None,
    ) -> list[Event]:
        """Append what `decide` returns; returns it ([] when there was nothing to do)."""
        store = self.store()
        for _ in range(self.attempts):
            history = await store.load(agency, aggregate, aggregate_id)
            events = decide(history)
            if not events:
                return []
            envs = self._wrap(events, agency, aggregate_id, history.version, cause)
            try:
                await store.append(envs, expected=history.version)
                return events
            except ConcurrencyConflict:
                continue
        raise RuntimeError(f"{aggregate} {aggregate_id} kept changing; giving up for now")

    async def create(
        self, agency: str, aggregate_id: str, events: list[Event], cause: Envelope | Cause | None = None
    ) -> bool:
        """Start a new aggregate with `events` (expected version 0, no load first). False if it exists."""
        envs = self._wrap(events, agency, aggregate_id, 0, cause)
        try:
            await self.store().append(envs, expected=0)
            return True
        except ConcurrencyConflict:
            return False

    def _wrap(
        self,
        events: list[Event],
        agency: str,
        aggregate_id: str,
        version: int,
        cause: Envelope | Cause | None,
    ) -> list[Envelope]:
        """Envelopes whose ids follow from the version decided on: the same decision twice is one event."""
        now = self.clock.now()
        envs = [
            Envelope.wrap(
                e,
                agency=agency,
                subject=aggregate_id,
                source=SOURCE,
                time=now,
                cause=cause if isinstance(cause, Envelope) else None,
                id=f"{aggregate_id}.{version}.{i}.{e.name}",
            )
            for i, e in enumerate(events)
        ]
        if isinstance(cause, Cause):
            trail = {"correlationid": cause.correlationid, "causationid": cause.id}
            envs = [env.model_copy(update=trail) for env in envs]
        return envs
