"""Fairness under a burst: what this replica has offered that its directory view does not show yet."""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass

from services.matching.domain.peers import Peer, with_load
from shared.contracts.base import Event
from shared.contracts.matching import AssignmentDeclined, AssignmentExpired, PeerAssigned


@dataclass
class Ledger:
    """This replica's offers the directory view does not show yet: decided but not yet appended
    (`inflight`), and appended but not yet applied by the view (`entries`, a heap of seq, peer, delta,
    summed in `unseen`)."""

    entries: list[tuple[int, str, int]] = dataclasses.field(default_factory=list)
    unseen: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # peer -> [active, recent]
    inflight: dict[str, int] = dataclasses.field(default_factory=dict)

    def hold(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, PeerAssigned):
                self.inflight[e.peer_ref] = self.inflight.get(e.peer_ref, 0) + 1

    def release(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, PeerAssigned):
                left = self.inflight.get(e.peer_ref, 0) - 1
                if left > 0:
                    self.inflight[e.peer_ref] = left
                else:
                    self.inflight.pop(e.peer_ref, None)

    def record(self, seq: int, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, PeerAssigned):
                self._add(seq, e.peer_ref, +1)
            elif isinstance(e, AssignmentDeclined | AssignmentExpired):
                self._add(seq, e.peer_ref, -1)

    def _add(self, seq: int, peer_ref: str, delta: int) -> None:
        heapq.heappush(self.entries, (seq, peer_ref, delta))
        counts = self.unseen.setdefault(peer_ref, [0, 0])
        counts[0] += delta
        counts[1] += max(delta, 0)

    def overlay(self, peers: list[Peer], applied: int) -> list[Peer]:
        """The peers as the view shows them (it has applied up to `applied`) plus what it does not show."""
        self.seen_up_to(applied)
        if not self.unseen and not self.inflight:
            return peers
        return [self.adjusted(p) for p in peers]

    def seen_up_to(self, applied: int) -> None:
        """Forget the offers the view has applied."""
        while self.entries and self.entries[0][0] <= applied:
            _, ref, delta = heapq.heappop(self.entries)
            counts = self.unseen[ref]
            counts[0] -= delta
            counts[1] -= max(delta, 0)
            if counts == [0, 0]:
                del self.unseen[ref]

    def adjusted(self, p: Peer) -> Peer:
        """One peer as the view shows it plus what it does not show yet (call `seen_up_to` first)."""
        active, recent = self.unseen.get(p.peer_ref, (0, 0))
        held = self.inflight.get(p.peer_ref, 0)
        if not (active or recent or held):
            return p
        return with_load(p, max(0, p.active_cases + active + held), p.recent_assignments + recent + held)
