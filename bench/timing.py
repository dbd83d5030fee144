"""Small value types for measured figures."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank); NaN for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass(frozen=True)
class Rate:
    """`count` events handled in `seconds` of wall-clock time."""

    count: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Latency:
    """Publish→handler round trips (milliseconds) at an offered rate."""

    offered_per_s: float
    achieved_per_s: float
    sent: int
    received: int
    samples_ms: tuple[float, ...]

    def percentile(self, p: int) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0] if self.samples_ms else float("nan")
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[p - 1]

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms, default=float("nan"))


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`."""

    def __init__(self) -> None:
        self._start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._start
