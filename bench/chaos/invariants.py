"""What must hold after a chaos run, checked against the log itself (the system of record)."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from shared.db import make_engine
from shared.envelope import STREAM, Envelope
from shared.projection import digest
from shared.replay import rebuild
from shared.runtime import SERVICES
from tests.support.bus import connect

ACTIVE_DELTA = {"peer_assigned": 1, "assignment_declined": -1, "assignment_expired": -1}
ENDS = {"request_cancelled", "case_closed"}
SETTLED = {"peer_assigned", "request_unmatched", "request_cancelled"}
INCIDENT = {"critical_incident_reported", "incident_responders_added"}


@dataclass
class Log:
    cases: dict[str, list[str]] = field(default_factory=dict)  # case_id -> event names in order
    ids: Counter[str] = field(default_factory=Counter)
    total: int = 0
    reports: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, incident_ref) -> reports
    involved: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # incident -> member_refs
    offers: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (agency, incident, member)
    followups: dict[str, datetime] = field(default_factory=dict)  # followup id -> due at (scheduled)
    fired: Counter[str] = field(default_factory=Counter)  # followup id -> followup_due events
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def due(self) -> set[str]:
        """Follow-ups scheduled to be due by the time this log was read."""
        return {f for f, at in self.followups.items() if at <= self.read_at}


async def read_log(url: str) -> Log:
    log = Log()
    nc = await connect(url)
    js = nc.jetstream()
    last = (await js.stream_info(STREAM)).state.last_seq
    done = asyncio.Event()

    async def take(msg: Msg) -> None:
        if msg.metadata.sequence.stream > last:  # appended after the read began: not in this snapshot
            done.set()
            return
        env = Envelope.from_bytes(msg.data)
        log.total += 1
        log.ids[env.id] += 1
        if msg.subject.split(".")[2] == "case":
            log.cases.setdefault(env.subject, []).append(env.event_name)
        elif env.event_name in INCIDENT:
            incident = (env.agency, env.subject)
            log.reports[incident] += env.event_name == "critical_incident_reported"
            people = log.involved.setdefault(incident, set())
            people.update(p["member_ref"] for p in env.data["involved"])
        elif env.event_name == "followup_scheduled":
            log.followups[env.subject] = datetime.fromisoformat(env.data["due_at"])
        elif env.event_name == "followup_due":
            log.fired[env.subject] += 1
        elif env.event_name == "debrief_offered":
            log.offers[(env.data["incident_agency"], env.data["incident_id"], env.data["member_ref"])] += 1
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


def incident_violations(log: Log, accepted: dict[tuple[str, str], str]) -> list[str]:
    """Every accepted critical incident reported once; every person on it offered one debrief, once."""
    out = []
    for (agency, cad_id), ref in accepted.items():
        if log.reports[(agency, ref)] != 1:
            out.append(f"{agency}/{cad_id}: accepted, reported {log.reports[(agency, ref)]} times")
    out += [f"{a}/{ref}: reported {n} times" for (a, ref), n in log.reports.items() if n > 1]
    due = {(a, ref, m) for (a, ref), people in log.involved.items() for m in people}
    out += [f"{a}/{ref}: {m} involved but never offered a debrief" for a, ref, m in due - set(log.offers)]
    out += [f"{a}/{ref}: {m} offered {n} debriefs" for (a, ref, m), n in log.offers.items() if n > 1]
    out += [f"{a}/{ref}: {m} offered a debrief but not involved" for a, ref, m in set(log.offers) - due]
    return out


def followup_violations(log: Log) -> list[str]:
    """Every follow-up due by now fired exactly once; none fired twice, none fired unscheduled."""
    out = [f"{f}: due at {log.followups[f]:%H:%M:%S} but never fired" for f in log.due() if not log.fired[f]]
    out += [f"{f}: fired {n} times" for f, n in log.fired.items() if n > 1]
    out += [f"{f}: fired but never scheduled" for f in log.fired.keys() - log.followups.keys()]
    return out


def _waiting(log: Log, cases: dict[str, str], incidents: dict[tuple[str, str], str]) -> int:
    soon = log.read_at + timedelta(seconds=30)  # follow-ups due within seconds: wait and check them too
    waiting = sum(1 for f, at in log.followups.items() if at <= soon and not log.fired[f])
    waiting += sum(1 for c in cases if not SETTLED & set(log.cases.get(c, [])))
    waiting += sum(1 for (a, _cad), ref in incidents.items() if not log.reports[(a, ref)])
    due = {(a, ref, m) for (a, ref), people in log.involved.items() for m in people}
    return waiting + len(due - set(log.offers))


async def settled(
    url: str, accepted: dict[str, str], within: float, incidents: dict[tuple[str, str], str] | None = None
) -> Log:
    """Read the log until every accepted case is settled and every debrief offered (or time runs out)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            log = await read_log(url)
        except (NatsError, TimeoutError):  # a node just killed: ask again while there is time
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1.0)
            continue
        if not _waiting(log, accepted, incidents or {}) or asyncio.get_running_loop().time() > deadline:
            return log
        await asyncio.sleep(1.0)


async def digest_violations(
    url: str, workdir: Path, env: dict[str, str] | None = None
) -> tuple[list[str], int]:
    """Each service's live projections against a fresh replay of the log into an empty database, built
    with the settings (`env`, e.g. the wellness policy) the live services ran with."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        return await _digests(url, workdir)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def _digests(url: str, workdir: Path) -> tuple[list[str], int]:
    out, checked = [], 0
    nc = await connect(url)
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
