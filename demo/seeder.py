"""The demo region's year, appended to the log under each service's own bus identity. Safe to run again.

The history is anchored at the demo peers' enrolment: on the first run the peers are enrolled a year back
(`shared.seed`) and the year that follows is played up to now; a later run finds them, plays the same
year again (same seed, same anchor: the same events, ids included) and sees its last event already in
the log, so it appends nothing. A run stopped half-way resumes: every event goes in at the version its
aggregate had when it was decided, and an event already stored there counts as landed.

Playing the year takes seconds, so a finished run leaves a mark (a small JSON file, `mark`) naming the
history's anchor and its last event; a later run that finds that very event in its aggregate on the log
knows the history is there and plays nothing. The mark is only a hint: the log decides.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout

from demo.activity import history
from demo.batches import Batch, rounds, windows
from demo.engine import Write
from demo.roster import Spec
from demo.shape import WEEK, Region
from shared import busclient
from shared.buscreds import seed_path
from shared.envelope import aggregate_filter
from shared.eventstore import MAX_BATCH, Append, BatchRefused, ConcurrencyConflict, EventStore
from shared.seed import AGENCIES, demo_peers
from shared.seed import seed as seed_peers

IDENTITIES = ("intake", "matching", "tracking", "wellness", "escalation")
FIRST_PEER = ("riverton-fire", "p-riverton-fire-01")
BATCH_TIMEOUT_S = 60.0
log = logging.getLogger("peerline.demo")


@dataclass(frozen=True)
class Seeded:
    peers: int
    events: int
    start: datetime | None  # where the history begins; None: the log's peers predate it (left alone)
    played: int = 0  # events the activity model decided on this run (0: the mark showed them in the log)


def demo_region(start: datetime, weeks: int = 52) -> Region:
    return Region(tuple(AGENCIES), start, weeks=weeks)


class Writer:
    """One connection per service identity; appends each event at its aggregate's version."""

    def __init__(self, clients: dict[str, Client]) -> None:
        self.stores = {name: EventStore(nc.jetstream()) for name, nc in clients.items()}
        self.versions: dict[str, int] = {}
        self.refused: set[str] = set()

    async def append(self, writes: Iterable[Write], span: timedelta = timedelta(days=2)) -> int:
        """Every write, in atomic batches (`demo.batches`), each aggregate's at the version it was
        decided on. Returns how many were appended (an event already there counts as appended)."""
        count = 0
        for chunk in windows(writes, span, 20_000):
            for batches in rounds(chunk):
                done = await asyncio.gather(*(self._batch(b) for b in batches))
                count += sum(done)
        return count

    async def _batch(self, batch: Batch) -> int:
        runs = [(filt, envs) for filt, envs in batch.runs.items() if filt not in self.refused]
        if not runs:
            return 0
        appends = [Append(envs, self.versions.get(filt, 0)) for filt, envs in runs]
        results = await self._publish(self.stores[batch.identity], appends)
        count = 0
        for (filt, envs), result in zip(runs, results, strict=True):
            if isinstance(result, ConcurrencyConflict):  # someone else wrote it: leave the rest out
                log.warning("%s: written by someone else; the demo leaves it alone", filt)
                self.refused.add(filt)
            elif isinstance(result, Exception):
                raise result
            else:
                self.versions[filt] = result
                count += len(envs)
        return count

    @staticmethod
    async def _publish(store: EventStore, appends: list[Append]) -> list[int | Exception]:
        """One atomic batch, given time to commit on a busy machine; refused or unanswered, the appends
        go one by one (`append_many`: an event already stored counts as landed)."""
        size = sum(len(a.envelopes) for a in appends)
        if len(appends) > 1 and size <= MAX_BATCH:
            try:
                last = await store.publish_batch(appends, timeout=BATCH_TIMEOUT_S)
            except (BatchRefused, TimeoutError, NatsTimeout):
                pass
            else:
                seq, out = last - size, list[int | Exception]()
                for a in appends:
                    seq += len(a.envelopes)
                    out.append(seq)
                return out
        return await store.append_many(appends)

    async def after_enrolment(self, peers: list[Spec]) -> None:
        """The demo peers are in the log already (`shared.seed`): their history goes on after their
        enrolment, and a resumed run finds what it wrote after it."""
        store = self.stores["matching"]
        for agency, ref, enrolment in peers:
            stored = await store.load(agency, "peer", ref)
            self.versions[aggregate_filter(agency, "peer", ref)] = stored.events[len(enrolment) - 1].seq

    async def holds(self, write: Write) -> bool:
        env = write.envelope
        return await self.has(write.identity, env.agency, env.aggregate, env.subject, env.id)

    async def has(self, identity: str, agency: str, aggregate: str, subject: str, event_id: str) -> bool:
        """Whether that event is in its aggregate on the log."""
        stored = await self.stores[identity].load(agency, aggregate, subject)
        return any(s.envelope.id == event_id for s in stored.events)


def read_mark(mark: Path, start: datetime) -> tuple[str, str, str, str, str] | None:
    """The last event a mark names, (identity, agency, aggregate, subject, id), if it marks the history
    anchored at `start`."""
    try:
        last = json.loads(mark.read_text())
        if last["start"] != start.isoformat() or last["identity"] not in IDENTITIES:
            return None
        return last["identity"], last["agency"], last["aggregate"], last["subject"], last["id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def leave_mark(mark: Path, start: datetime, last: Write) -> None:
    env = last.envelope
    where = {"identity": last.identity, "agency": env.agency, "aggregate": env.aggregate}
    mark.write_text(json.dumps({"start": start.isoformat(), **where, "subject": env.subject, "id": env.id}))


async def anchor(store: EventStore) -> datetime | None:
    peer = await store.load(FIRST_PEER[0], "peer", FIRST_PEER[1])
    return peer.events[0].envelope.time if peer.events else None


async def seed(url: str, creds: Path, now: datetime, weeks: int = 52, mark: Path | None = None) -> Seeded:
    """The demo peers (unless on the log) and their history up to `now`; `mark`: where a finished
    history is noted, so a later run with the same mark skips playing it."""
    clients = {name: await busclient.connect(url, name, seed_path(creds, name)) for name in IDENTITIES}
    try:
        writer = Writer(clients)
        start = await anchor(writer.stores["matching"])
        peers = 0
        if start is None:
            start = now.replace(minute=0, second=0, microsecond=0) - weeks * WEEK
            peers = await seed_peers(clients["matching"].jetstream(), at=start)
        if start + weeks * WEEK > now + timedelta(days=1):
            return Seeded(peers, 0, None)  # peers enrolled recently, before the demo had a history
        noted = read_mark(mark, start) if mark is not None else None
        if noted is not None and await writer.has(*noted):
            return Seeded(peers, 0, start)
        writes = list(history(demo_region(start, weeks), demo_peers(), enroll=False))
        appended = 0
        if writes and not await writer.holds(writes[-1]):
            await writer.after_enrolment(demo_peers())
            appended = await writer.append(writes)
        if writes and mark is not None:
            leave_mark(mark, start, writes[-1])
        return Seeded(peers, appended, start, len(writes))
    finally:
        for nc in clients.values():
            await nc.close()
