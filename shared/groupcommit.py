"""Group commit: the appends of concurrent callers written together, one durable write for many.

While one write is out, the appends that arrive gather; when it is answered, everything gathered goes
out as ONE atomic batch (`EventStore.append_many`). A lone caller is written at once, as by
`EventStore.append`; under load each write carries whatever came in while the previous one was being
fsynced, so the log's per-write cost is shared. Each caller gets its own append's result: its new
version, or what stopped it (a `ConcurrencyConflict` only for its own aggregate; the others land).
Message-id dedupe and expected versions work as for `EventStore.append` (append_many falls back to it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from opentelemetry.context import get_current

from shared.envelope import Envelope, aggregate_filter
from shared.eventstore import MAX_BATCH, Append, EventStore

log = logging.getLogger("peerline.eventstore")
Waiting = tuple[Append, asyncio.Future[int]]


class GroupCommit:
    def __init__(self, store: Callable[[], EventStore], max_appends: int = 256) -> None:
        self._store, self._max = store, max_appends
        self._waiting: list[Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, envelopes: Sequence[Envelope], expected: int | None) -> int:
        """As `EventStore.append` (events of ONE aggregate at the version decided on), written with the
        appends of whoever else is appending now."""
        if not envelopes:
            raise ValueError("nothing to append")
        if len({aggregate_filter(e.agency, e.aggregate, e.subject) for e in envelopes}) > 1:
            raise ValueError("one append holds events of one aggregate")  # refused alone, not with others
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((Append(list(envelopes), expected, get_current()), done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await done

    def _next_batch(self) -> list[Waiting]:
        """The oldest waiting appends, up to the batch's limits; distinct aggregates only (a second
        append to one aggregate waits for the next write, after the first has moved its version)."""
        batch: list[Waiting] = []
        seen: set[str] = set()
        count = 0
        rest: list[Waiting] = []
        for waiting in self._waiting:
            first = waiting[0].envelopes[0]
            key = aggregate_filter(first.agency, first.aggregate, first.subject)
            size = len(waiting[0].envelopes)
            if key in seen or len(batch) >= self._max or (batch and count + size > MAX_BATCH):
                rest.append(waiting)
                continue
            seen.add(key)
            count += size
            batch.append(waiting)
        self._waiting = rest
        return batch

    async def _write_all(self) -> None:
        batch: list[Waiting] = []
        try:
            while self._waiting:
                batch = self._next_batch()
                try:
                    results = await self._store().append_many([a for a, _ in batch])
                except Exception as exc:  # nothing known of any of them: each caller hears why
                    results = [exc] * len(batch)
                for (_, done), result in zip(batch, results, strict=True):
                    if done.done():  # its caller gave up (e.g. the client went away)
                        continue
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        except BaseException as exc:  # cancelled: the callers still waiting must not hang
            for _, done in [*batch, *self._waiting]:
                if not done.done():
                    done.set_exception(RuntimeError("the log writer stopped"))
            self._waiting.clear()
            if not isinstance(exc, Exception):
                raise
            log.exception("group commit failed")
        finally:
            self._writer = None
