"""Intake's rules for a case's life as the requester sees it. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from shared.contracts.base import Event
from shared.contracts.escalation import EscalationAcknowledged, EscalationResolved, EscalationTriggered
from shared.contracts.intake import (
    Activation,
    CallbackLeft,
    CallbackReleased,
    MemberIdentityErased,
    MemberRegistered,
    Preferences,
    RequestCancelled,
    SupportRequested,
)
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed

ContactPreference = Literal["phone", "text", "in_person", "video", "any"]
REFERRALS: frozenset[str] = frozenset({"supervisor", "peer"})

# What the member sees: requested → offered (a peer is asked) → accepted (who contacts whom) → closed.
Status = Literal["new", "requested", "offered", "accepted", "unmatched", "cancelled", "closed"]
OPEN: frozenset[str] = frozenset({"requested", "offered", "accepted", "unmatched"})


class Rejected(Exception):
    """The command cannot be carried out in the case's current state."""


@dataclass(frozen=True)
class RequestSupport:
    activation: Activation
    discipline: str | None = None
    preferences: Preferences = Preferences()
    unit: str | None = None
    contact_preference: ContactPreference = "any"
    identity_fields: frozenset[str] = frozenset()  # which identity fields were given (never their values)
    incident_ref: str | None = None
    supervisor_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    status: Status = "new"


def evolve(case: Case, event: Event) -> Case:
    match event:
        case SupportRequested():
            return replace(case, status="requested")
        case PeerAssigned():
            return replace(case, status="offered")
        case AssignmentAccepted():
            return replace(case, status="accepted")
        case AssignmentDeclined() | AssignmentExpired():
            return replace(case, status="requested")  # the next peer is being asked
        case RequestUnmatched():
            return replace(case, status="unmatched")
        case RequestCancelled():
            return replace(case, status="cancelled")
        case CaseClosed():
            return replace(case, status="closed")
    return case


def fold(events: list[Event]) -> Case:
    case = Case()
    for e in events:
        case = evolve(case, e)
    return case


def request_support(case: Case, cmd: RequestSupport, *, member_ref: str, token_hash: str) -> list[Event]:
    if case.status != "new":
        raise Rejected("this case already exists")
    referred = cmd.activation in REFERRALS
    if referred and not cmd.identity_fields & {"phone", "email"}:
        raise Rejected("identity: a referral must say how to reach the member (phone or email)")
    return [
        SupportRequested(
            activation=cmd.activation,
            discipline=cmd.discipline,
            unit=cmd.unit,
            member_ref=member_ref,
            preferences=cmd.preferences,
            token_hash=token_hash,
            incident_ref=cmd.incident_ref,
            supervisor_refs=cmd.supervisor_refs,
            referred=referred,
            contact_preference=cmd.contact_preference,
        )
    ]


def requester_keeps_token(activation: Activation) -> bool:
    """A referrer (supervisor, peer) never follows the case afterwards: only the member gets a token."""
    return activation not in REFERRALS


def cancel(case: Case) -> list[Event]:
    if case.status == "new":
        raise Rejected("no such case")
    if case.status == "cancelled":
        raise Rejected("the request is already cancelled")
    if case.status == "closed":
        raise Rejected("the case is closed")
    return [RequestCancelled(by="requester")]


def leave_callback(case: Case, channel: Literal["phone", "text"]) -> list[Event]:
    """The member leaves a callback channel for this case only (its value goes to the vault)."""
    if case.status not in OPEN:
        raise Rejected("the case is no longer open")
    return [CallbackLeft(channel=channel)]


@dataclass(frozen=True)
class Meeting:
    """Who the member meets on a case: the peer who accepted it, and what became of a callback."""

    status: str
    member_ref: str = ""
    peer_ref: str | None = None
    assignment_id: str = ""
    callback: str | None = None  # left | released | shredded


def may_release_callback(meeting: Meeting, peer_ref: str) -> list[Event]:
    """The callback goes to the peer who accepted the case, and to no one else."""
    if meeting.status != "accepted" or meeting.peer_ref != peer_ref:
        raise Rejected("only the peer who accepted this case may have its callback")
    if meeting.callback not in ("left", "released"):
        raise Rejected("no callback was left on this case, or it was shredded")
    return [CallbackReleased(peer_ref=peer_ref, assignment_id=meeting.assignment_id)]


def who_contacts(meeting: Meeting) -> str | None:
    """Once accepted: the peer calls back when the member left a callback, else the member reaches out
    on the channels the peer publishes."""
    if meeting.status != "accepted":
        return None
    return "peer_contacts_member" if meeting.callback in ("left", "released") else "member_contacts_peer"


# --- the vault's reveal rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reveal:
    member_ref: str
    basis: str


def case_member(case: list[Event]) -> str | None:
    opened = next((e for e in case if isinstance(e, SupportRequested)), None)
    return opened.member_ref if opened else None


def may_reveal(
    escalation: list[Event], case: list[Event], member: list[Event], *, case_id: str, requested_by: str
) -> Reveal:
    """Reveal only under an open escalation of this case whose policy allows disclosure, asked by the
    person who acknowledged it, for a member who gave an identity that was not erased."""
    triggered = next((e for e in escalation if isinstance(e, EscalationTriggered)), None)
    if triggered is None:
        raise Rejected("no such escalation")
    if triggered.case_id != case_id:
        raise Rejected("the escalation is about another case")
    if not triggered.disclosable:
        raise Rejected("the agency's policy does not allow disclosure for this concern")
    if any(isinstance(e, EscalationResolved) for e in escalation):
        raise Rejected("the escalation is resolved")
    if not any(isinstance(e, EscalationAcknowledged) and e.by == requested_by for e in escalation):
        raise Rejected("only whoever acknowledged the escalation may ask")
    if triggered.raised_by and triggered.raised_by == requested_by:
        raise Rejected("whoever raised the concern may not also ask for the identity")
    opened = next((e for e in case if isinstance(e, SupportRequested)), None)
    if opened is None:
        raise Rejected("no such case")
    if any(isinstance(e, MemberIdentityErased) for e in member):
        raise Rejected("the member's identity was erased")
    if not any(isinstance(e, MemberRegistered) for e in member):
        raise Rejected("the member gave no identity")
    return Reveal(opened.member_ref, triggered.category)
