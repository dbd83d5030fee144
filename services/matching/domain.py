"""Who supports whom. Pure: plain data in, events out, every exclusion explained.

This is the first, simple policy (available, acknowledged, preference on agency, fewest active cases);
the matching issue grows it into the full set of hard constraints and soft scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shared.contracts.base import Event
from shared.contracts.intake import Preferences, RequestCancelled, SupportRequested
from shared.contracts.matching import PeerAssigned, RequestUnmatched


@dataclass(frozen=True)
class Peer:
    peer_ref: str
    agency: str
    discipline: str
    languages: tuple[str, ...] = ("en",)
    acknowledged: bool = False
    available: bool = False
    active_cases: int = 0


@dataclass(frozen=True)
class Case:
    """Matching's view of a case, folded from its events."""

    agency: str = ""
    status: str = "new"  # new | requested | assigned | unmatched | cancelled
    preferences: Preferences = Preferences()
    peer_ref: str | None = None


@dataclass(frozen=True)
class Choice:
    peer: Peer | None
    excluded: dict[str, str] = field(default_factory=dict)  # peer_ref -> why not


def evolve(case: Case, event: Event, agency: str) -> Case:
    match event:
        case SupportRequested():
            return replace(case, agency=agency, status="requested", preferences=event.preferences)
        case PeerAssigned():
            return replace(case, status="assigned", peer_ref=event.peer_ref)
        case RequestUnmatched():
            return replace(case, status="unmatched")
        case RequestCancelled():
            return replace(case, status="cancelled", peer_ref=None)
    return case


def why_not(peer: Peer, case: Case) -> str | None:
    prefs = case.preferences
    if not peer.acknowledged:
        return "has not acknowledged the confidentiality policy"
    if not peer.available:
        return "unavailable"
    if prefs.agency_scope == "own" and peer.agency != case.agency:
        return "another agency; the requester asked for their own"
    if prefs.agency_scope == "other" and peer.agency == case.agency:
        return "the requester's own agency; they asked for another"
    if prefs.peer_ref and peer.peer_ref != prefs.peer_ref:
        return "not the peer the requester named"
    return None


def choose(case: Case, peers: list[Peer]) -> Choice:
    excluded: dict[str, str] = {}
    fits: list[Peer] = []
    for p in peers:
        reason = why_not(p, case)
        if reason:
            excluded[p.peer_ref] = reason
        else:
            fits.append(p)
    if not fits:
        return Choice(None, excluded)
    best = min(fits, key=lambda p: (p.active_cases, p.peer_ref))
    for p in fits:
        if p is not best:
            excluded[p.peer_ref] = f"busier or later in order ({p.active_cases} active cases)"
    return Choice(best, excluded)


def assign(case: Case, peers: list[Peer]) -> list[Event]:
    """Decide the case's assignment. Nothing to do unless the case is waiting for a peer."""
    if case.status != "requested":
        return []
    choice = choose(case, peers)
    if choice.peer is None:
        return [RequestUnmatched(reason="no available peer fits the request")]
    return [PeerAssigned(peer_ref=choice.peer.peer_ref, peer_agency=choice.peer.agency)]
