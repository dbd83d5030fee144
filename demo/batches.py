"""Time-ordered writes cut into atomic batches: one service identity and one run of events per aggregate
in each, every aggregate's events kept in order.

A window of writes (a day or two of the region's life) is split, per aggregate, into runs of events its
services decide in turn (intake opens a case, matching offers it, tracking logs a contact…). Round r holds
every aggregate's r-th run; rounds go to the log one after another, so each aggregate's events land in
order, while events of different aggregates inside one window may land in another order than they
happened, by at most the window's span."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from demo.engine import Write
from shared.envelope import Envelope, aggregate_filter
from shared.eventstore import MAX_BATCH


@dataclass
class Batch:
    """Events for one identity to append at once: per aggregate (its filter), its run of events."""

    identity: str
    runs: dict[str, list[Envelope]] = field(default_factory=dict)
    size: int = 0


def rounds(window: list[Write]) -> list[list[Batch]]:
    """The window's writes as rounds of batches (at most MAX_BATCH events each)."""
    segments: dict[str, list[tuple[str, list[Envelope]]]] = {}
    for w in window:
        env = w.envelope
        runs = segments.setdefault(aggregate_filter(env.agency, env.aggregate, env.subject), [])
        if runs and runs[-1][0] == w.identity:
            runs[-1][1].append(env)
        else:
            runs.append((w.identity, [env]))
    out: list[list[Batch]] = []
    for filt, runs in segments.items():
        for r, (identity, envs) in enumerate(runs):
            if r == len(out):
                out.append([])
            batches = out[r]
            batch = next((b for b in reversed(batches) if b.identity == identity), None)
            if batch is None or batch.size + len(envs) > MAX_BATCH:
                batch = Batch(identity)
                batches.append(batch)
            batch.runs[filt] = envs
            batch.size += len(envs)
    return out


def windows(writes: Iterable[Write], span: timedelta, limit: int) -> Iterator[list[Write]]:
    """Consecutive writes within `span` of the first one's time, at most `limit` of them. A short span
    keeps the log close to time order: what one window reorders, a reader sees only for that long (a
    peer's active cases counted before their closings, say)."""
    window: list[Write] = []
    for w in writes:
        if window and (len(window) >= limit or w.envelope.time - window[0].envelope.time >= span):
            yield window
            window = []
        window.append(w)
    if window:
        yield window
