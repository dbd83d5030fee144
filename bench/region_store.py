"""A regional history in a JetStream store of its own under `var/bench-region/`, generated once per set of
parameters and reused: `demo.activity` at a hundred agencies over three years, every event appended under
the identity of the service that decides it, in atomic batches (`demo.seeder.Writer`)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import demo
from demo.activity import history
from demo.batches import windows
from demo.engine import Write
from demo.roster import region_peers
from demo.seeder import IDENTITIES, Writer
from demo.shape import Region
from shared import busclient
from shared.topology import Consumer
from tests.support.bus import seeds

EVENTS_PER_REQUEST = 12.4  # what demo.activity makes of one request, follow-ups and incidents included


def model() -> str:
    """The activity model's version: a digest of its source, so a changed model makes a new history."""
    digest = hashlib.sha256()
    for path in sorted(Path(demo.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Params:
    events: int
    agencies: int = 100
    years: int = 3
    seed: int = 17

    def key(self) -> str:
        text = json.dumps({**asdict(self), "model": model()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def region(self) -> Region:
        """Busy enough to make `events` within the years (the history is cut there), with a fixed end so
        the same parameters always give the same history."""
        weeks = 52 * self.years
        agencies = tuple(f"agency-{n:03d}" for n in range(1, self.agencies + 1))
        per_week = self.events * 1.05 / (self.agencies * weeks * EVENTS_PER_REQUEST)
        start = datetime(2026, 1, 5, tzinfo=UTC).replace(year=2026 - self.years)
        return Region(agencies, start, weeks=weeks, requests_per_week=per_week, seed=self.seed)

    def peers_per_agency(self) -> int:
        return max(10, round(self.region().requests_per_week * 0.6))


def generate(params: Params) -> Iterator[Write]:
    """The first `params.events` events of the region's history, peers' enrolment included."""
    region = params.region()
    peers = region_peers(region.agencies, params.peers_per_agency())
    return islice(history(region, peers, enroll=True), params.events)


def tally(
    writes: Iterator[Write], readers: dict[str, list[Consumer]], counts: Counter[str]
) -> Iterator[Write]:
    """Pass the writes through, counting per service the events its projections' filters select."""
    for w in writes:
        subject = w.envelope.nats_subject
        for service, consumers in readers.items():
            counts[service] += sum(1 for c in consumers if c.wants(subject))
        yield w


@dataclass(frozen=True)
class Stored:
    events: int
    applied: dict[str, int]  # service → events its projections apply
    generated_s: float | None  # None: reused


def manifest(directory: Path) -> dict[str, object] | None:
    path = directory / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


async def write(
    url: str,
    directory: Path,
    params: Params,
    readers: dict[str, list[Consumer]],
    progress: Callable[[int], None],
) -> Stored:
    """Generate and append the history (once: a complete store's manifest is reused as it is)."""
    done = manifest(directory)
    if done is not None:
        return Stored(int(done["events"]), dict(done["applied"]), None)  # type: ignore[arg-type,call-overload]
    start = datetime.now(UTC)
    counts: Counter[str] = Counter()
    clients = {name: await busclient.connect(url, name, seeds(url) / f"{name}.nk") for name in IDENTITIES}
    try:
        writer = Writer(clients)
        total = 0
        for chunk in windows(tally(generate(params), readers, counts), timedelta(weeks=1), 20_000):
            total += await writer.append(chunk)
            progress(total)
    finally:
        for nc in clients.values():
            await nc.close()
    took = (datetime.now(UTC) - start).total_seconds()
    record = {"params": asdict(params), "model": model(), "events": total, "applied": dict(counts)}
    (directory / "manifest.json").write_text(json.dumps({**record, "generated_s": round(took, 1)}, indent=2))
    return Stored(total, dict(counts), took)
