"""Every service's projections rebuilt from the regional log by its own replay (`python -m services.<name>
replay`, what `peerline replay <name>` runs: the read-only `replay` identity, rich progress bars), each
into an empty database, timed; and the raw callback replay of the same log beside them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext

from bench.raw import ordered_baseline
from bench.timing import Rate
from shared.replay import whole_log
from shared.topology import Consumer
from tests.support.bus import seeds

REPLAYED = ("intake", "matching", "escalation", "tracking", "wellness")  # notify and console keep no view


def readers() -> dict[str, list[Consumer]]:
    """Each service's rebuild consumers, from its own composition root."""
    from services.escalation.main import projections as escalation
    from services.intake.main import projections as intake
    from services.matching.main import projections as matching
    from services.tracking.main import projections as tracking
    from services.wellness.main import projections as wellness

    roots = {
        "intake": intake,
        "matching": matching,
        "escalation": escalation,
        "tracking": tracking,
        "wellness": wellness,
    }
    return {name: [c for _, c in roots[name]()] for name in REPLAYED}


@dataclass(frozen=True)
class Rebuilt:
    service: str
    seconds: float
    applied: int  # events its projections' filters select
    read: int  # events it read from the log (a whole-log replay reads every one and skips the rest)
    ok: bool

    @property
    def applied_per_s(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    @property
    def read_per_s(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def rebuild(url: str, service: str, workdir: Path, applied: int, read: int) -> Rebuilt:
    """One service's `replay` into a fresh database under `workdir`, its progress bars on this terminal."""
    var = workdir / service
    var.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PEERLINE_NATS_URL": url,
        "PEERLINE_NATS_USER": "replay",
        "PEERLINE_NATS_SEED_FILE": str(seeds(url) / "replay.nk"),
        "PEERLINE_VAR_DIR": str(var),
        "PEERLINE_OTLP_ENDPOINT": "",
    }
    env.pop("PEERLINE_DATABASE_URL", None)
    t0 = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", f"services.{service}", "replay"], env=env)
    return Rebuilt(service, time.perf_counter() - t0, applied, read, code == 0)


def read_count(consumers: list[Consumer], log_events: int, applied: int) -> int:
    """What a service's one-pass rebuild reads (`shared.replay.subscription`): the whole log once for
    several projections or a read-all consumer, else what its one consumer's filter selects."""
    return log_events if whole_log(consumers) else applied


async def raw_replay(js: JetStreamContext, events: int) -> Rate:
    """The raw floor: an ordered push consumer over the whole log with a callback that only counts."""
    return await ordered_baseline(js, "ev.>", events, callback=True, stall_s=30.0)
