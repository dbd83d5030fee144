"""The fast path's reads and decisions: a fetched batch of new requests decided on one directory read.

The directory view is a function of its position (the projection moves both in one transaction), so
what was read of it is kept until the position moves: under a trickle of requests most batches only
read the position, and the first day's offers (`views.recent_offers`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, Engine

from services.matching import domain
from services.matching import queries as views
from services.matching.domain.ledger import Ledger
from services.matching.domain.peers import Peer, Policy
from services.matching.projection import utc_day
from shared.contracts.base import Event
from shared.contracts.matching import PeerAssigned

PoolKey = tuple[str, float]  # the agency (or "*": the region) and the policy's recent-offer window


def pool_key(case: domain.Case, recent_days: float) -> PoolKey:
    return (case.agency if case.preferences.agency_scope == "own" else "*", recent_days)


class Snapshot(NamedTuple):
    """The candidate pools, the crews of the incidents behind the requests, the view's position."""

    pools: dict[PoolKey, list[Peer]]
    seen: dict[str, frozenset[str]]
    applied: int
    decided: frozenset[str] = frozenset()  # cases the view already holds a decision for (redeliveries)


@dataclass
class ViewAt:
    """What was read of the directory view at one position."""

    position: int
    directory: list[tuple[Peer, str, int]]
    day_sums: dict[str, dict[str, int]]


class DirectoryReader:
    def __init__(self, engine: Engine, directory_name: str, policy: Callable[[str], Policy]) -> None:
        self.engine, self.directory_name, self.policy = engine, directory_name, policy
        self._view = ViewAt(-1, [], {})

    def read(self, cases: list[domain.Case], now: datetime) -> Snapshot:
        """One read of the directory for the whole batch."""
        pools: dict[PoolKey, list[Peer]] = {}
        seen: dict[str, frozenset[str]] = {}
        recent: dict[float, dict[str, int]] = {}
        with self.engine.connect() as conn:
            applied = views.applied(conn, self.directory_name)
            if self._view.position != applied:  # the view moved on: read it again
                self._view = ViewAt(applied, views.everyone(conn), {})
            for case in cases:
                days = self.policy(case.agency).recent_days
                key = pool_key(case, days)
                if key not in pools:
                    if days not in recent:
                        recent[days] = self._recent(conn, now, days)
                    pools[key] = views.in_scope(self._view.directory, recent[days], case)
                if case.incident_ref and case.incident_ref not in seen:
                    seen[case.incident_ref] = views.witnesses(conn, case.incident_ref)
            done = frozenset(views.decided(conn, [c.case_id for c in cases]))
        return Snapshot(pools, seen, applied, done)

    def _recent(self, conn: Connection, now: datetime, days: float) -> dict[str, int]:
        """views.recent_offers, with the whole days' counts kept while the view stays where it is."""
        since, next_day = views.window(now, days)
        first = utc_day(next_day)
        if first not in self._view.day_sums:
            self._view.day_sums[first] = views.day_sums(conn, first)
        found = Counter(self._view.day_sums[first])
        found.update(views.offers_between(conn, since, next_day))
        return found


def decide_all(
    cases: list[domain.Case],
    snapshot: Snapshot,
    ledger: Ledger,
    policy: Callable[[str], Policy],
    now: datetime,
) -> list[list[Event]]:
    """Each case on the snapshot plus this replica's offers the view does not show yet (`ledger`),
    including the batch's own earlier picks: each pick is held at once and re-overlaid on its peer."""
    pools = snapshot.pools
    shown = {key: list(ledger.overlay(pool, snapshot.applied)) for key, pool in pools.items()}
    where = {key: {p.peer_ref: i for i, p in enumerate(pool)} for key, pool in pools.items()}
    decided: list[list[Event]] = []
    try:
        for case in cases:
            rules = policy(case.agency)
            ctx = domain.Context(now, rules, snapshot.seen.get(case.incident_ref or "", frozenset()))
            events = domain.assign(case, shown[pool_key(case, rules.recent_days)], ctx)
            ledger.hold(events)
            decided.append(events)
            for e in events:
                if isinstance(e, PeerAssigned):
                    for key, index in where.items():
                        if (i := index.get(e.peer_ref)) is not None:
                            shown[key][i] = ledger.adjusted(pools[key][i])
    except Exception:
        for events in decided:
            ledger.release(events)
        raise
    return decided
