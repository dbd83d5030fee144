"""Tracking's rules for a case: who may report a contact on it, and closing it. Pure: no I/O, no clock.

The case aggregate is shared with intake and matching (`ev.<agency>.case.<id>.*`); tracking folds the
events it cares about into the little state its decisions need. A peer is identified by the `sub` of
their token, which by convention IS their `peer_ref` (the pseudonym matching assigns); a peer reports
only on a case whose current assignment names that `peer_ref` and the peer's agency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from shared.contracts.base import Event
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.contracts.matching import (
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    RequestUnmatched,
)
from shared.contracts.tracking import (
    CaseClosed,
    Category,
    ContactLogged,
    ContactMode,
    DurationBucket,
    Referral,
)

Status = Literal["new", "open", "closed", "cancelled"]
Outcome = Literal["supported", "referred", "declined", "no_contact"]
WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


class Rejected(Exception):
    """The command cannot be carried out in the case's current state."""


class NoSuchCase(Rejected):
    pass


class NotAssigned(Rejected):
    """Only the peer currently assigned to the case may report on it."""


@dataclass(frozen=True)
class Case:
    status: Status = "new"
    peer_ref: str | None = None
    peer_agency: str | None = None
    contacts: int = 0


def evolve(case: Case, event: Event) -> Case:
    match event:
        case SupportRequested():
            return replace(case, status="open")
        case PeerAssigned():
            return replace(case, peer_ref=event.peer_ref, peer_agency=event.peer_agency)
        case AssignmentDeclined() | AssignmentExpired() if event.peer_ref == case.peer_ref:
            return replace(case, peer_ref=None, peer_agency=None)
        case RequestUnmatched():
            return replace(case, peer_ref=None, peer_agency=None)
        case RequestCancelled():
            return replace(case, status="cancelled", peer_ref=None, peer_agency=None)
        case ContactLogged():
            return replace(case, contacts=case.contacts + 1)
        case CaseClosed():
            return replace(case, status="closed")
    return case


def fold(events: list[Event]) -> Case:
    case = Case()
    for e in events:
        case = evolve(case, e)
    return case


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Reporter:
    """Who is reporting: the token's `sub` (= peer_ref) and agency."""

    peer_ref: str
    agency: str


@dataclass(frozen=True)
class LogContact:
    mode: ContactMode
    categories: tuple[Category, ...]
    duration: DurationBucket
    referral: Referral = "none"
    followup_wanted: bool = False
    risk_flag: bool = False
    week: str | None = None  # ISO week; defaults to the current one


def quarter_of(week: str) -> str:
    """ISO weeks 1-13 are Q1, 14-26 Q2, 27-39 Q3, 40-53 Q4: aligned, disjoint periods."""
    return f"{week[:4]}-Q{min(4, (int(week[6:]) - 1) // 13 + 1)}"


def monday_of(week: str) -> date | None:
    """The Monday of an ISO week, None if there is no such week (e.g. 2025-W53)."""
    if not WEEK.match(week):
        return None
    try:
        return date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
    except ValueError:
        return None


def check_week(week: str, current_week: str, window_weeks: int) -> None:
    """A contact is reported for this week or one of the `window_weeks` before it, and never into a
    quarter that has ended: an ended quarter is published and its counts are final."""
    monday, now = monday_of(week), monday_of(current_week)
    if monday is None or now is None:
        raise Rejected("week: expected an ISO week such as 2026-W48")
    if monday > now:
        raise Rejected("week: a contact cannot be reported for a future week")
    if (now - monday).days > 7 * window_weeks:
        raise Rejected(f"week: a contact is reported within {window_weeks} weeks")
    if quarter_of(week) != quarter_of(current_week):
        raise Rejected(f"week: {quarter_of(week)} is published; its counts are final")


def log_contact(
    case: Case, by: Reporter, cmd: LogContact, *, current_week: str, window_weeks: int = 2
) -> list[Event]:
    if case.status == "new":
        raise NoSuchCase("no such case")
    if case.status != "open":
        raise Rejected(f"the case is {case.status}")
    if case.peer_ref is None or (case.peer_ref, case.peer_agency) != (by.peer_ref, by.agency):
        raise NotAssigned("only the peer assigned to this case may report on it")
    week = cmd.week or current_week
    check_week(week, current_week, window_weeks)
    if not cmd.categories:
        raise Rejected("categories: at least one category")
    return [
        ContactLogged(
            peer_ref=by.peer_ref,
            week=week,
            mode=cmd.mode,
            categories=tuple(sorted(set(cmd.categories))),
            duration=cmd.duration,
            referral=cmd.referral,
            followup_wanted=cmd.followup_wanted,
            risk_flag=cmd.risk_flag,  # escalation reacts to contact_logged with risk_flag set
            initial=case.contacts == 0,
        )
    ]


def close_case(case: Case, outcome: Outcome) -> list[Event]:
    if case.status == "new":
        raise NoSuchCase("no such case")
    if case.status != "open":
        raise Rejected(f"the case is already {case.status}")
    return [CaseClosed(by="coordinator", outcome=outcome)]
