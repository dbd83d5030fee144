"""Intake's rules for a case's life as the requester sees it. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from shared.contracts.base import Event
from shared.contracts.intake import Activation, Preferences, RequestCancelled, SupportRequested
from shared.contracts.matching import PeerAssigned, RequestUnmatched

Status = Literal["new", "requested", "assigned", "unmatched", "cancelled"]


class Rejected(Exception):
    """The command cannot be carried out in the case's current state."""


@dataclass(frozen=True)
class RequestSupport:
    activation: Activation
    discipline: str | None = None
    preferences: Preferences = Preferences()


@dataclass(frozen=True)
class Case:
    status: Status = "new"


def evolve(case: Case, event: Event) -> Case:
    match event:
        case SupportRequested():
            return replace(case, status="requested")
        case PeerAssigned():
            return replace(case, status="assigned")
        case RequestUnmatched():
            return replace(case, status="unmatched")
        case RequestCancelled():
            return replace(case, status="cancelled")
    return case


def fold(events: list[Event]) -> Case:
    case = Case()
    for e in events:
        case = evolve(case, e)
    return case


def request_support(case: Case, cmd: RequestSupport, *, member_ref: str, token_hash: str) -> list[Event]:
    if case.status != "new":
        raise Rejected("this case already exists")
    return [
        SupportRequested(
            activation=cmd.activation,
            discipline=cmd.discipline,
            member_ref=member_ref,
            preferences=cmd.preferences,
            token_hash=token_hash,
        )
    ]


def cancel(case: Case) -> list[Event]:
    if case.status == "new":
        raise Rejected("no such case")
    if case.status == "cancelled":
        raise Rejected("the request is already cancelled")
    return [RequestCancelled(by="requester")]
