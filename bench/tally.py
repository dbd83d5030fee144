"""Connection errors (above all client-side slow-consumer drops), counted per benchmark stage.

nats-py drops a message when a subscription's pending queue is full and reports it only to the
connection's error callback; an ordered consumer does not notice the gap. Dropped events make a
figure meaningless, so every stage's drops are recorded next to its result.
"""

from __future__ import annotations

from collections import Counter

from nats.errors import SlowConsumerError


class ErrorTally:
    def __init__(self) -> None:
        self.stage = "setup"
        self.dropped: Counter[str] = Counter()
        self.other: list[str] = []

    async def record(self, exc: Exception) -> None:
        if isinstance(exc, SlowConsumerError):
            self.dropped[self.stage] += 1
        elif len(self.other) < 20:
            self.other.append(f"{self.stage}: {type(exc).__name__}: {exc}"[:300])
