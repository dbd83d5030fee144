"""CPU time matching spends per request, in-process and without NATS: less sensitive to a busy machine
than the end-to-end figures (it counts this process's CPU time, not the wall clock).

    python -m bench.matching_cpu [--requests 3000] [--batch 128]

Seeds the demo peers into a fresh SQLite directory view, then for each batch of `--batch` requests:
decides them as the reactor's fast path does (one directory read, the rules, the ledger, the envelopes
serialized), then applies the resulting events to the directory view in one transaction as the
projection runner does. Prints microseconds of CPU per request for each half.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from services.matching.commands.assigner import SOURCE, Assigner, Delivered, event_id
from services.matching.domain.peers import Policy
from services.matching.projection import DirectoryProjection
from shared.clock import SystemClock
from shared.contracts.intake import Preferences, SupportRequested
from shared.db import make_engine
from shared.envelope import Envelope, new_id
from shared.items import Item, item_of
from shared.projection import apply_batch, ensure_schema
from shared.seed import AGENCIES, demo_peers


def request(n: int) -> Envelope:
    payload = SupportRequested(
        activation="self",
        member_ref=new_id("m"),
        token_hash="0" * 64,
        preferences=Preferences(agency_scope=("own", "own", "any")[n % 3]),
    )
    return Envelope.wrap(payload, agency=list(AGENCIES)[n % 3], subject=new_id("c"), source="bench")


async def measure(requests: int, batch: int, work: Path) -> tuple[float, float]:
    engine = make_engine(f"sqlite:///{work}/directory.db")
    view = DirectoryProjection()
    ensure_schema(engine, view)
    seq, items = 0, []
    for agency, ref, events in demo_peers():
        for e in events:
            seq += 1
            items.append(item_of(Envelope.wrap(e, agency=agency, subject=ref, source="seed"), seq))
    apply_batch(engine, view, items)
    assigner = Assigner(engine, SystemClock(), lambda _agency: Policy())
    deciding = applying = 0.0
    for start in range(0, requests, batch):
        delivered = []
        for n in range(start, min(requests, start + batch)):
            seq += 1
            delivered.append(Delivered(Envelope.from_bytes(request(n).to_bytes()), seq, {}))
        t0 = time.process_time()
        prepared = await assigner.prepare(delivered)
        applied: list[Item] = []
        for (env, at, _), events in zip(delivered, prepared.decided, strict=True):
            for e in events:
                out = Envelope.wrap(
                    e,
                    agency=env.agency,
                    subject=env.subject,
                    source=SOURCE,
                    time=prepared.now,
                    cause=env,
                    id=event_id(env.subject, at, e),
                )
                seq += 1
                applied.append(Item(seq, out.nats_subject, out.to_bytes(), None))
            assigner.ledger.record(seq, events)
            assigner.ledger.release(events)
        t1 = time.process_time()
        parsed = [item_of(Envelope.from_bytes(i.data), i.seq) for i in applied]  # the runner parses too
        t2 = time.process_time()
        apply_batch(engine, view, parsed)
        t3 = time.process_time()
        deciding += t1 - t0
        applying += t3 - t2
    return deciding * 1e6 / requests, applying * 1e6 / requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.matching_cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=128, help="requests per fetched batch")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="peerline-cpu-") as tmp:
        decide, apply = asyncio.run(measure(args.requests, args.batch, Path(tmp)))
    print(f"matching CPU, {args.requests} requests in batches of {args.batch}:")
    print(f"  decide (directory read, rules, envelopes)  {decide:7.0f} µs/request")
    print(f"  directory view (apply the decisions)       {apply:7.0f} µs/request")
    print(f"  total                                      {decide + apply:7.0f} µs/request")


if __name__ == "__main__":
    main()
