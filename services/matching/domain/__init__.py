"""Who supports whom. Pure: plain data in, events out, every decision explained.

Hard constraints exclude a peer (`why_not`); soft scores rank the rest (`score`, lower is better).
Time, the agency's policy and the people on the incident behind the request come in as a `Context`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from services.matching.domain.peers import Peer, Policy, available_at
from shared.contracts.base import Event
from shared.contracts.intake import Preferences, RequestCancelled, SupportRequested
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    CoordinatorAlerted,
    DeclineReason,
    HandOn,
    MatchExplanation,
    PeerAssigned,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed

# Reasons that would reveal the member's relation to a peer are shown to coordinators as `conflict`.
CONFLICTS = {"witness", "chain_of_command", "supervised_by_member", "is_the_member"}


class Rejected(Exception):
    """The command cannot be carried out in the case's current state."""


@dataclass(frozen=True)
class Offer:
    assignment_id: str
    peer_ref: str
    peer_agency: str
    respond_by: datetime | None = None
    accepted: bool = False


@dataclass(frozen=True)
class Case:
    """Matching's view of a case, folded from its events."""

    case_id: str = ""
    agency: str = ""
    status: str = "new"  # new | waiting | offered | accepted | unmatched | cancelled | closed
    member_ref: str = ""
    discipline: str | None = None
    preferences: Preferences = Preferences()
    incident_ref: str | None = None
    supervisor_refs: tuple[str, ...] = ()
    offer: Offer | None = None
    offers_made: int = 0
    tried: frozenset[str] = frozenset()  # peers who declined or let the offer expire on this case


@dataclass(frozen=True)
class Context:
    now: datetime
    policy: Policy = Policy()
    witnesses: frozenset[str] = frozenset()  # member_refs on the incident behind the request


@dataclass(frozen=True)
class Choice:
    peer: Peer | None
    because: tuple[str, ...] = ()
    ranked: tuple[tuple[str, float], ...] = ()
    excluded: dict[str, str] = field(default_factory=dict)  # peer_ref -> reason code


Decide = Callable[[Case, list[Peer], Context], list[Event]]


def evolve(case: Case, event: Event, agency: str, case_id: str = "") -> Case:
    match event:
        case SupportRequested():
            return replace(
                case,
                case_id=case_id or case.case_id,
                agency=agency,
                status="waiting",
                member_ref=event.member_ref,
                discipline=event.discipline,
                preferences=event.preferences,
                incident_ref=event.incident_ref,
                supervisor_refs=event.supervisor_refs,
            )
        case PeerAssigned():
            respond_by = datetime.fromisoformat(event.respond_by) if event.respond_by else None
            offer = Offer(event.assignment_id, event.peer_ref, event.peer_agency, respond_by)
            return replace(case, status="offered", offer=offer, offers_made=case.offers_made + 1)
        case AssignmentAccepted() if case.offer is not None:
            return replace(case, status="accepted", offer=replace(case.offer, accepted=True))
        case AssignmentDeclined() | AssignmentExpired():
            return replace(case, status="waiting", offer=None, tried=case.tried | {event.peer_ref})
        case RequestUnmatched():
            return replace(case, status="unmatched", offer=None)
        case RequestCancelled():
            return replace(case, status="cancelled", offer=None)
        case CaseClosed():
            return replace(case, status="closed", offer=None)
    return case


def why_not(peer: Peer, case: Case, ctx: Context) -> str | None:
    """The first hard constraint the peer fails for this case, as a reason code; None if eligible."""
    prefs = case.preferences
    if peer.stage != "active":
        return "not_active"
    if not peer.acknowledged:
        return "not_acknowledged"
    if peer.member_ref and peer.member_ref == case.member_ref:
        return "is_the_member"
    if peer.member_ref and peer.member_ref in ctx.witnesses:
        return "witness"
    if peer.member_ref and peer.member_ref in case.supervisor_refs:
        return "chain_of_command"
    if case.member_ref and case.member_ref in peer.supervisor_refs:
        return "supervised_by_member"
    if prefs.agency_scope == "own" and peer.agency != case.agency:
        return "agency_scope"
    if prefs.agency_scope == "other" and peer.agency == case.agency:
        return "agency_scope"
    if peer.peer_ref in case.tried:
        return "declined_or_expired"
    if peer.reachable is False or (peer.reachable is None and ctx.policy.require_reachable):
        return "unreachable"  # an offer nobody can tell the peer about only expires
    if peer.overloaded:
        return "overloaded"
    if peer.on_break(ctx.now):
        return "on_break"
    if not peer.on_duty:
        return "off_duty"
    if not available_at(peer, ctx.now):
        return "outside_window"
    if peer.unconfirmed(ctx.now, ctx.policy):
        return "roster_unconfirmed"
    if peer.training_lapsed(ctx.now):
        return "training_lapsed"
    return None


def _tiebreak(case_id: str, peer_ref: str) -> float:
    """A stable per-case shuffle among equals, so equal peers share a burst instead of one taking it."""
    digest = hashlib.sha256(f"{case_id}/{peer_ref}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def score(peer: Peer, case: Case, ctx: Context) -> tuple[float, list[str]]:
    """Lower is better: active cases weigh most, then recent assignments; fit subtracts."""
    w = ctx.policy
    value = w.weight_active * peer.active_cases + w.weight_recent * peer.recent_assignments
    notes = [f"{peer.active_cases} active cases", f"{peer.recent_assignments} recent assignments"]
    wanted = case.preferences.peer_discipline or case.discipline
    if wanted and peer.discipline == wanted:
        value -= w.weight_discipline
        notes.append("discipline fit")
    if case.preferences.language and case.preferences.language in peer.languages:
        value -= w.weight_language
        notes.append("language fit")
    return value + _tiebreak(case.case_id, peer.peer_ref) * 0.01, notes


def public_reason(code: str) -> str:
    return "conflict" if code in CONFLICTS else code


def choose(case: Case, peers: list[Peer], ctx: Context) -> Choice:
    excluded: dict[str, str] = {}
    scored: list[tuple[float, Peer, list[str]]] = []
    for p in peers:
        reason = why_not(p, case, ctx)
        if reason:
            excluded[p.peer_ref] = reason
        else:
            value, notes = score(p, case, ctx)
            scored.append((value, p, notes))
    scored.sort(key=lambda t: (t[0], t[1].peer_ref))
    ranked = tuple((p.peer_ref, round(v, 4)) for v, p, _ in scored)
    if not scored:
        return Choice(None, (), ranked, excluded)
    named = case.preferences.peer_ref
    for _value, p, notes in scored:
        if named and p.peer_ref == named:
            return Choice(p, ("the peer the requester named", *notes), ranked, excluded)
    best = scored[0]
    because = ("best score among eligible peers", *best[2])
    if named:
        because = ("the named peer is not available", *because)
    return Choice(best[1], because, ranked, excluded)


def explain(choice: Choice, considered: int) -> MatchExplanation:
    grouped: dict[str, list[str]] = {}
    for peer_ref, code in sorted(choice.excluded.items()):
        grouped.setdefault(public_reason(code), []).append(peer_ref)
    return MatchExplanation(
        chosen_because=choice.because,
        ranked=choice.ranked[:10],
        excluded={k: tuple(v) for k, v in grouped.items()},
        considered=considered,
    )


def offer_id(case: Case) -> str:
    return f"{case.case_id}-a{case.offers_made + 1}"


def _offer(case: Case, peer: Peer, ctx: Context, explanation: MatchExplanation) -> PeerAssigned:
    respond_by = ctx.now + timedelta(minutes=ctx.policy.respond_within_minutes)
    return PeerAssigned(
        peer_ref=peer.peer_ref,
        peer_agency=peer.agency,
        assignment_id=offer_id(case),
        respond_by=respond_by.isoformat(),
        explanation=explanation,
    )


def assign(case: Case, peers: list[Peer], ctx: Context) -> list[Event]:
    """Offer the case to the best peer, or report it unmatched and alert the coordinator.

    Nothing to do unless the case is waiting for a peer: this is what keeps one active assignment.
    """
    if case.status != "waiting":
        return []
    choice = choose(case, peers, ctx)
    explanation = explain(choice, len(peers))
    if choice.peer is None:
        return [
            RequestUnmatched(reason="no eligible peer", explanation=explanation),
            CoordinatorAlerted(reason="request_unmatched", case_agency=case.agency),
        ]
    return [_offer(case, choice.peer, ctx, explanation)]


def _current(case: Case, peer_ref: str) -> Offer:
    if case.offer is None or case.status not in ("offered", "accepted"):
        raise Rejected("the case has no open assignment")
    if case.offer.peer_ref != peer_ref:
        raise Rejected("the case is assigned to another peer")
    return case.offer


def accept(case: Case, peer_ref: str) -> list[Event]:
    offer = _current(case, peer_ref)
    if offer.accepted:
        return []
    return [AssignmentAccepted(peer_ref=peer_ref, assignment_id=offer.assignment_id)]


def _then(case: Case, event: Event, peers: list[Peer], ctx: Context) -> list[Event]:
    return [event, *assign(evolve(case, event, case.agency), peers, ctx)]


def decline(
    case: Case, peer_ref: str, peers: list[Peer], ctx: Context, reason: DeclineReason | None = None
) -> list[Event]:
    """The peer declines (before or after accepting), with a coded reason; the next best peer is offered
    the case."""
    offer = _current(case, peer_ref)
    declined = AssignmentDeclined(peer_ref=peer_ref, assignment_id=offer.assignment_id, reason=reason)
    return _then(case, declined, peers, ctx)


def expire(case: Case, assignment_id: str, peers: list[Peer], ctx: Context) -> list[Event]:
    """The offer went unanswered past its deadline: expire it and offer the next best peer."""
    offer = case.offer
    if case.status != "offered" or offer is None or offer.assignment_id != assignment_id:
        return []  # answered, cancelled or already expired
    if offer.respond_by is not None and ctx.now < offer.respond_by:
        return []
    event = AssignmentExpired(peer_ref=offer.peer_ref, assignment_id=assignment_id)
    return _then(case, event, peers, ctx)


def rematch(case: Case, peers: list[Peer], ctx: Context) -> list[Event]:
    """A coordinator asks for another attempt on an unmatched case (peers who declined stay excluded)."""
    if case.status != "unmatched":
        raise Rejected("only an unmatched case can be matched again")
    return assign(replace(case, status="waiting"), peers, ctx)


def assign_to(case: Case, peer_ref: str, peers: list[Peer], ctx: Context) -> list[Event]:
    """A coordinator gives the case to a named peer: an open case is handed on from its current peer
    first. The named peer must pass every hard constraint (a past decline or expiry is overridden)."""
    if case.status not in ("waiting", "unmatched", "offered", "accepted"):
        raise Rejected("the case is not open")
    if case.offer is not None and case.offer.peer_ref == peer_ref:
        raise Rejected("the case is already with this peer")
    peer = next((p for p in peers if p.peer_ref == peer_ref), None)
    if peer is None:
        raise Rejected("no such peer within the case's scope")
    events: list[Event] = []
    if case.offer is not None:
        offer = case.offer
        events.append(
            AssignmentDeclined(
                peer_ref=offer.peer_ref, assignment_id=offer.assignment_id, handed_on="reassigned"
            )
        )
        case = evolve(case, events[0], case.agency)
    reason = why_not(peer, replace(case, tried=case.tried - {peer_ref}), ctx)
    if reason:
        raise Rejected(f"the peer cannot take this case: {public_reason(reason)}")
    explanation = MatchExplanation(chosen_because=("assigned by the coordinator",), considered=1)
    return [*events, _offer(case, peer, ctx, explanation)]


def hand_on(case: Case, peer_ref: str, why: HandOn, peers: list[Peer], ctx: Context) -> list[Event]:
    """The peer was deselected or went on a break: a case still with them goes to the next best peer."""
    offer = case.offer
    if offer is None or offer.peer_ref != peer_ref or case.status not in ("offered", "accepted"):
        return []  # answered, handed on or closed meanwhile
    event = AssignmentDeclined(peer_ref=peer_ref, assignment_id=offer.assignment_id, handed_on=why)
    return _then(case, event, peers, ctx)
