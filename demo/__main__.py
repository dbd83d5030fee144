"""`python -m demo seed --nats-url URL --creds DIR [--mark FILE]`: seed the demo region (peers and a year
of activity; with a mark left by an earlier run, only once)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from demo.seeder import seed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    p.add_argument("command", choices=["seed"])
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument("--creds", type=Path, required=True, help="directory of the services' NKey seeds")
    p.add_argument("--weeks", type=int, default=52)
    p.add_argument("--mark", type=Path, help="a file noting the finished history: a later run skips it")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    done = asyncio.run(seed(args.nats_url, args.creds, datetime.now(UTC), args.weeks, args.mark))
    took = time.perf_counter() - t0
    if done.peers:
        print(f"seeded the demo region: {done.peers} peers in riverton-fire, riverton-police, county-ems")
    if done.start is None:
        print("the demo peers predate the demo's history: no activity seeded")
    elif done.events:
        print(f"seeded {done.events:,} events of activity since {done.start:%Y-%m-%d} in {took:.1f}s")
    else:
        print(f"the demo region's activity since {done.start:%Y-%m-%d} is already in the log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
