"""The peer teams: their directory state (matching's own `Peer` fold), their load as wellness sees it
(overloaded at a threshold, recovered after the cool-down), and re-confirmation every quarter so the
roster never goes stale."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from demo.engine import Engine
from services.matching.domain import peers as directory
from services.matching.domain.peers import Peer, Policy, with_load
from services.wellness import domain as wellness
from services.wellness.domain.policy import AgencyPolicy
from shared.contracts.base import Event
from shared.contracts.matching import (
    ConfidentialityAcknowledged,
    PeerAvailabilityChanged,
    PeerAvailabilityConfirmed,
    PeerEnrolled,
    PeerReconfirmationRequested,
)

DISCIPLINES = ("fire", "police", "ems", "dispatch", "ems", "fire", "police", "corrections")
UNITS = ("unit-1", "unit-2", "unit-3", "unit-4")
Spec = tuple[str, str, list[Event]]  # (agency, peer_ref, directory events)


def region_peers(agencies: tuple[str, ...], per_agency: int) -> list[Spec]:
    """Peer teams for a generated region: enrolled, acknowledged, on duty (every twelfth one off duty)."""
    out: list[Spec] = []
    for a, agency in enumerate(agencies):
        for n in range(1, per_agency + 1):
            events: list[Event] = [
                PeerEnrolled(discipline=DISCIPLINES[(a + n) % len(DISCIPLINES)], unit=UNITS[n % 4]),
                ConfidentialityAcknowledged(policy_version="2026-1"),
                PeerAvailabilityChanged(available=n % 12 != 7),
            ]
            out.append((agency, f"p-{agency}-{n:02d}", events))
    return out


class Roster:
    def __init__(
        self,
        engine: Engine,
        specs: list[Spec],
        enroll: bool,
        policy: Policy = Policy(),
        limits: AgencyPolicy = AgencyPolicy(),
    ) -> None:
        """`enroll`: the simulation appends the directory events itself (else they are in the log)."""
        self.engine, self.policy, self.limits = engine, policy, limits
        self.peers: dict[str, dict[str, Peer]] = defaultdict(dict)
        self.active: dict[str, int] = defaultdict(int)
        self.recent: dict[str, deque[datetime]] = defaultdict(deque)
        self.contacts: dict[str, deque[datetime]] = defaultdict(deque)
        self.load: dict[str, wellness.PeerState] = defaultdict(wellness.PeerState)
        for agency, ref, events in specs:
            peer = Peer(ref, agency)
            for event in events:
                peer = directory.evolve(peer, event, engine.now)
            self.peers[agency][ref] = peer
            if enroll:
                engine.emit("matching", agency, ref, events)
            self._next_reminder(peer)

    def candidates(self, agency: str) -> list[Peer]:
        """The agency's peers with their current load (active cases, assignments in the last week)."""
        since = self.engine.now - timedelta(days=self.policy.recent_days)
        out = []
        for ref, peer in self.peers[agency].items():
            recent = self.recent[ref]
            while recent and recent[0] < since:
                recent.popleft()
            out.append(with_load(peer, self.active[ref], len(recent)))
        return out

    def assigned(self, agency: str, ref: str) -> None:
        self.active[ref] += 1
        self.recent[ref].append(self.engine.now)
        self._weigh(agency, ref)

    def released(self, agency: str, ref: str) -> None:
        self.active[ref] = max(0, self.active[ref] - 1)
        self._weigh(agency, ref)

    def contacted(self, agency: str, ref: str) -> None:
        self.contacts[ref].append(self.engine.now)
        self._weigh(agency, ref)

    def _weigh(self, agency: str, ref: str) -> None:
        """What wellness decides on the peer's load: overloaded at a threshold, recovered once under
        every one again and the cool-down has passed (checked again when it has)."""
        now, contacts = self.engine.now, self.contacts[ref]
        while contacts and now - contacts[0] >= timedelta(days=7):
            contacts.popleft()
        state = self.load[ref]
        load = wellness.Load(self.active[ref], len(contacts))
        events = wellness.decide_load(state, load, self.limits, now)
        peer = self.peers[agency][ref]
        for env in self.engine.emit("wellness", agency, ref, events):
            state = wellness.evolve_peer(state, env.payload(), env.time)
            peer = directory.evolve(peer, env.payload(), env.time)
        self.load[ref], self.peers[agency][ref] = state, peer
        until = wellness.recovers_at(state, self.limits)
        if events and until is not None:
            self.engine.at(until, self._weigh, agency, ref)

    def _next_reminder(self, peer: Peer) -> None:
        due = directory.reminder_due(peer, self.policy)
        if due is not None:
            self.engine.at(due[0], self._remind, peer.agency, peer.peer_ref)

    def _decide(self, agency: str, ref: str, command: Event) -> None:
        peer = self.peers[agency][ref]
        for env in self.engine.emit("matching", agency, ref, directory.decide(peer, command)):
            peer = directory.evolve(peer, env.payload(), env.time)
        self.peers[agency][ref] = peer

    def _remind(self, agency: str, ref: str) -> None:
        """Matching asks for re-confirmation two weeks ahead; the peer confirms within a fortnight."""
        due = directory.reminder_due(self.peers[agency][ref], self.policy)
        assert due is not None
        self._decide(agency, ref, PeerReconfirmationRequested(due_by=due[1].isoformat()))
        later = self.engine.now + timedelta(days=self.engine.rng.uniform(0.5, 12))
        self.engine.at(later, self._confirm, agency, ref)

    def _confirm(self, agency: str, ref: str) -> None:
        self._decide(agency, ref, PeerAvailabilityConfirmed())
        self._next_reminder(self.peers[agency][ref])
