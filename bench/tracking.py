"""Tracking at scale: leadership reports answered from the projection over a large history, the
projection's rebuild rate, and the raw ordered-replay rate of the same log in the same run.

    python -m bench.tracking                      # 200k events (a few minutes on 2 cores)
    python -m bench.tracking --events 1000000     # the 1M figure (about four times longer)
    python -m bench.tracking --out bench/results/tracking.json
    python -m bench.tracking --apply-only         # the projection alone, in-process, CPU-timed (no NATS)

Starts its own nats-server (sync_interval: always) in a temporary directory; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.js.api import ConsumerConfig, DeliverPolicy, RawStreamMsg

from services.tracking.domain import iso_week
from services.tracking.projection.trends import TrendsProjection
from services.tracking.queries import publication
from services.tracking.tables import trend_counts
from shared.contracts.base import Event
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, SupportRequested
from shared.contracts.matching import AssignmentAccepted, PeerAssigned
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import DebriefAccepted, DebriefOffered, FollowupCompleted, FollowupScheduled
from shared.db import make_engine
from shared.envelope import STREAM, Envelope
from shared.items import parse_raw
from shared.projection import apply_batch, ensure_schema
from shared.replay import rebuild
from shared.topology import consumer, provision
from tests.support.bus import connect, start_server

START = datetime(2025, 1, 6, tzinfo=UTC)
SPAN = timedelta(weeks=104)
AGENCIES = [f"agency-{i:02d}" for i in range(60)]
CATEGORIES = ("critical_incident", "operational_stress", "family_relationship", "grief", "health", "other")


def _message(event: Event, agency: str, subject: str, at: datetime) -> tuple[str, bytes]:
    env = Envelope.wrap(event, agency=agency, subject=subject, source="bench", time=at)
    return f"ev.{agency}.{event.aggregate}.{subject}.{event.name}", env.to_bytes()


def history(n_events: int, seed: int = 1) -> Iterator[tuple[str, bytes]]:
    """About n_events of a plausible regional log, two years, 60 agencies, in stream order."""
    rnd = random.Random(seed)
    n_cases = max(1, n_events // 6)
    made, k = 0, -1
    while made < n_events:
        k += 1
        agency, case = rnd.choice(AGENCIES), f"c-{k}"
        at = START + SPAN * min(k / n_cases, 1.0)
        out: list[tuple[str, bytes]] = []
        requested = SupportRequested(
            activation=rnd.choice(("self", "supervisor", "peer", "post_incident")),
            discipline=rnd.choice(("fire", "police", "ems", "dispatch", "corrections")),
            unit=f"unit-{rnd.randrange(8)}",
            member_ref=f"m-{k}",
            token_hash="0" * 64,
        )
        out.append(_message(requested, agency, case, at))
        at += timedelta(minutes=rnd.choice((2, 9, 25, 70, 400)))
        out.append(
            _message(PeerAssigned(peer_ref=f"p-{rnd.randrange(500)}", peer_agency=agency), agency, case, at)
        )
        out.append(_message(AssignmentAccepted(peer_ref="p"), agency, case, at + timedelta(minutes=3)))
        for _ in range(rnd.choice((1, 1, 2, 2, 3, 4))):
            at += timedelta(days=rnd.randrange(5))
            contact = ContactLogged(
                peer_ref="p",
                week=iso_week(at),
                mode=rnd.choice(("in_person", "phone", "text", "video")),
                categories=tuple(sorted(set(rnd.sample(CATEGORIES, rnd.randint(1, 2))))),
                duration=rnd.choice(("under_15m", "15_30m", "30_60m", "over_60m")),
                referral=rnd.choice(("none", "none", "none", "eap", "clinician", "chaplain")),
                followup_wanted=rnd.random() < 0.3,
            )
            out.append(_message(contact, agency, case, at))
        if rnd.random() < 0.3:
            fid = f"f-{k}"
            scheduled = FollowupScheduled(case_id=case, peer_ref="p", due_at=at.isoformat(), n=1)
            out.append(_message(scheduled, agency, fid, at))
            if rnd.random() < 0.7:
                out.append(_message(FollowupCompleted(case_id=case), agency, fid, at + timedelta(days=2)))
        if rnd.random() < 0.5:
            out.append(_message(CaseClosed(), agency, case, at + timedelta(days=1)))
        if k % 5 == 0:
            offer = DebriefOffered(
                incident_id="i",
                incident_agency=agency,
                member_ref=f"m-d{k}",
                role="responder",
                offer_type="debrief",
                window_opens=at.isoformat(),
                window_closes=at.isoformat(),
            )
            out.append(_message(offer, agency, f"d-{k}", at))
            if rnd.random() < 0.5:
                out.append(_message(DebriefAccepted(), agency, f"d-{k}", at))
        if k % 20 == 0:
            incident = CriticalIncidentReported(
                incident_type="mci", agencies=(agency,), flags=IncidentFlags(mass_casualty=True), involved=()
            )
            out.append(_message(incident, agency, f"i-{k}", at))
        yield from out[: n_events - made]
        made += len(out)


async def load(js: Any, n_events: int) -> tuple[int, float]:
    t0, count, window = time.perf_counter(), 0, []
    for subject, data in history(n_events):
        window.append(await js.publish_async(subject, data))
        count += 1
        if len(window) >= 2000:
            await asyncio.gather(*window)
            window = []
    await asyncio.gather(*window)
    return count, time.perf_counter() - t0


async def raw_replay(js: Any) -> tuple[int, float]:
    """Every message of the log through an ordered push consumer, nothing else done with it."""
    t0, count = time.perf_counter(), 0
    sub = await js.subscribe(
        "ev.>", stream=STREAM, ordered_consumer=True, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    try:
        while True:
            msg = await sub.next_msg(timeout=30)
            count += 1
            if not msg.metadata.num_pending:
                return count, time.perf_counter() - t0
    finally:
        await sub.unsubscribe()


def apply_rate(n_events: int, batch: int = 1000) -> dict[str, float]:
    """The trends projection alone: decoded events applied in-process into SQLite, batch by batch as a
    rebuild does. Process CPU time, so the figure barely moves with the machine's load."""
    raws = [RawStreamMsg(subject=s, seq=seq, data=d) for seq, (s, d) in enumerate(history(n_events), 1)]
    decode_cpu = time.process_time()
    items = [parse_raw(raw) for raw in raws]
    decode_cpu = time.process_time() - decode_cpu
    with tempfile.TemporaryDirectory(prefix="peerline-bench-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/tracking.db")
        projection = TrendsProjection()
        ensure_schema(engine, projection)
        cpu = time.process_time()
        for i in range(0, len(items), batch):
            apply_batch(engine, projection, items[i : i + batch])
        cpu = time.process_time() - cpu
        engine.dispose()
    return {
        "apply_events": len(items),
        "apply_events_per_cpu_s": round(len(items) / cpu),
        "decode_events_per_cpu_s": round(len(items) / decode_cpu),
    }


QUERIES: list[tuple[str, str, str | None]] = [
    ("contacts", "category", None),  # regional roll-up: agencies × categories
    ("contacts", "referral", None),
    ("requests", "activation", None),
    ("contacts", "category", AGENCIES[0]),  # one agency's weekly trend
    ("contacts", "unit", AGENCIES[0]),
    ("response_times", "bucket", AGENCIES[0]),
    ("followups", "status", AGENCIES[0]),
    ("debriefs", "outcome", AGENCIES[0]),
]


def time_reports(engine: Any, quarter: str, repeat: int = 5) -> dict[str, dict[str, float]]:
    """First answer (suppresses every table of the report's quarter together) and later answers
    (served from the cache until the projection moves), in milliseconds."""
    publisher = publication.Reports(lambda agency: 11)
    out = {}
    with engine.connect() as conn:
        for report, by, agency in QUERIES:
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                rows_by = "agency" if agency is None else "week"
                result = publisher.build(conn, report, by, rows_by=rows_by, agency=agency, quarter=quarter)
                result.to_json()
                runs.append(time.perf_counter() - t0)
            key = f"{report} by {by} ({agency or 'region'}, {quarter})"
            out[key] = {
                "first_ms": round(runs[0] * 1000, 1),
                "cached_ms": round(statistics.median(runs[1:]) * 1000, 2),
            }
    return out


async def run(n_events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="peerline-bench-") as tmp:
        server = start_server(Path(tmp) / "nats")
        nc = await connect(server.url)
        try:
            js = nc.jetstream()
            await provision(js)
            published, load_s = await load(js, n_events)
            replayed, replay_s = await raw_replay(js)
            engine = make_engine(f"sqlite:///{tmp}/tracking.db")
            t0 = time.perf_counter()
            applied = await rebuild(js, engine, TrendsProjection(), consumer("tracking-trends"))
            rebuild_s = time.perf_counter() - t0
            with engine.connect() as conn:
                rows = conn.execute(trend_counts.select().with_only_columns(trend_counts.c.n)).all()
            return {
                "events": published,
                "publish_events_per_s": round(published / load_s),
                "raw_ordered_replay_events_per_s": round(replayed / replay_s),
                "projection_rebuild_events_per_s": round(applied / rebuild_s),
                "projection_rebuild_s": round(rebuild_s, 1),
                "trend_count_rows": len(rows),
                "reports": time_reports(engine, "2025-Q3"),
            }
        finally:
            await nc.close()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here as JSON")
    parser.add_argument("--apply-only", action="store_true", help="only the in-process projection rate")
    args = parser.parse_args()
    figures = apply_rate(args.events) if args.apply_only else asyncio.run(run(args.events))
    result = {"bench": "tracking", "at": datetime.now(UTC).isoformat(), **figures}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
