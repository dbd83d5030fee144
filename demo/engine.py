"""The simulated clock: a queue of what happens next, and the events each step appends.

Steps run in time order; every event a step decides is stamped with the simulated now and recorded as a
`Write` under the bus identity of the service that decides it. Ids come from their own seeded generator,
so one region and seed always give the same history, byte for byte.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from demo.shape import Region
from shared.contracts.base import Event
from shared.envelope import Envelope

# who decides → (the bus identity that appends, the envelope's source), as each service writes them
DECIDERS = {
    "intake": ("intake", "peerline/intake"),
    "intake-cad": ("intake", "peerline/intake-cad"),  # intake's CAD adapter
    "matching": ("matching", "peerline/matching"),
    "tracking": ("tracking", "peerline/tracking"),
    "wellness": ("wellness", "peerline/wellness"),
    "escalation": ("escalation", "peerline/escalation"),
}


@dataclass(frozen=True)
class Write:
    """One event as the service that decided it appends it: its bus identity and the envelope."""

    identity: str
    envelope: Envelope


class Engine:
    def __init__(self, region: Region) -> None:
        self.region = region
        self.rng = random.Random(region.seed)
        self._ids = random.Random(region.seed * 7919 + 1)
        self.now = region.start
        self._queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self._n = 0
        self._out: list[Write] = []

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{uuid.UUID(int=self._ids.getrandbits(128), version=4).hex}"

    def new_bytes(self) -> bytes:
        return self._ids.randbytes(16)

    def at(self, when: datetime, step: Callable[..., None], *args: Any) -> None:
        """Run `step(*args)` at `when` (never before now)."""
        heapq.heappush(self._queue, (max(when, self.now), self._n, step, args))
        self._n += 1

    def emit(
        self,
        decider: str,
        agency: str,
        subject: str,
        events: list[Event],
        cause: Envelope | None = None,
        ids: list[str] | None = None,
    ) -> list[Envelope]:
        identity, source = DECIDERS[decider]
        envs = [
            Envelope.wrap(
                e,
                agency=agency,
                subject=subject,
                source=source,
                time=self.now,
                cause=cause,
                id=ids[i] if ids else str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            )
            for i, e in enumerate(events)
        ]
        self._out.extend(Write(identity, env) for env in envs)
        return envs

    def run(self) -> Iterator[Write]:
        """Every step before the region's end, in time order; what would come later is left undone
        (the live services take it from there)."""
        end = self.region.end
        while self._queue:
            when, _, step, args = heapq.heappop(self._queue)
            if when >= end:
                return
            self.now = when
            step(*args)
            if self._out:
                yield from self._out
                self._out.clear()
