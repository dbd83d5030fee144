"""What must hold after a chaos run, checked against the log itself (the system of record)."""

from __future__ import annotations

import asyncio
import importlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.msg import Msg

from shared.db import make_engine
from shared.envelope import STREAM, Envelope
from shared.projection import digest
from shared.replay import rebuild
from shared.runtime import SERVICES

ACTIVE_DELTA = {"peer_assigned": 1, "assignment_declined": -1, "assignment_expired": -1}
ENDS = {"request_cancelled", "case_closed"}
SETTLED = {"peer_assigned", "request_unmatched", "request_cancelled"}


@dataclass
class Log:
    cases: dict[str, list[str]] = field(default_factory=dict)  # case_id -> event names in order
    ids: Counter[str] = field(default_factory=Counter)
    total: int = 0


async def read_log(url: str) -> Log:
    log = Log()
    nc = await nats.connect(url)
    js = nc.jetstream()
    last = (await js.stream_info(STREAM)).state.last_seq
    done = asyncio.Event()

    async def take(msg: Msg) -> None:
        env = Envelope.from_bytes(msg.data)
        log.total += 1
        log.ids[env.id] += 1
        if msg.subject.split(".")[2] == "case":
            log.cases.setdefault(env.subject, []).append(env.event_name)
        if msg.metadata.sequence.stream >= last:
            done.set()

    sub = await js.subscribe("ev.>", stream=STREAM, ordered_consumer=True, cb=take)
    if last:
        await asyncio.wait_for(done.wait(), timeout=120)
    await sub.unsubscribe()
    await nc.close()
    return log


def case_violations(log: Log, accepted: dict[str, str]) -> list[str]:
    out = []
    for case_id in accepted:
        names = log.cases.get(case_id)
        if not names or names[0] != "support_requested":
            out.append(f"{case_id}: accepted but not in the log")
        elif not SETTLED & set(names):
            out.append(f"{case_id}: never assigned or unmatched ({names})")
    for case_id, names in log.cases.items():
        active = 0
        for name in names:
            active = 0 if name in ENDS else active + ACTIVE_DELTA.get(name, 0)
            if active > 1:
                out.append(f"{case_id}: two active assignments ({names})")
                break
    out += [f"event {i} stored {n} times" for i, n in log.ids.items() if n > 1]
    return out


async def settled(url: str, accepted: dict[str, str], within: float) -> Log:
    """Read the log until every accepted case is settled (or time runs out)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        log = await read_log(url)
        waiting = [c for c in accepted if not SETTLED & set(log.cases.get(c, []))]
        if not waiting or asyncio.get_running_loop().time() > deadline:
            return log
        await asyncio.sleep(1.0)


async def digest_violations(url: str, workdir: Path) -> tuple[list[str], int]:
    """Each service's live projections against a fresh replay of the log into an empty database."""
    out, checked = [], 0
    nc = await nats.connect(url)
    for name in SERVICES:
        live = make_engine(f"sqlite:///{workdir}/{name}.db")
        for projection, consumer in importlib.import_module(f"services.{name}.main").projections():
            fresh = make_engine(f"sqlite:///{workdir}/replay-{projection.name}.db")
            await rebuild(nc.jetstream(), fresh, projection, consumer)
            checked += 1
            if digest(live, projection) != digest(fresh, projection):
                out.append(f"{name}/{projection.name}: live projection differs from a fresh replay")
    await nc.close()
    return out, checked
