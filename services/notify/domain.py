"""Who is told what, decided. Pure: events and plain data in, notices and times out.

A notice is one message about one log event to one audience. Its text is generic and lock-screen safe
(never a name, a category or anything a person said); the deep link leads to what to do. Pages ignore
quiet hours; everything else waits for them to end. Time comes in as a value.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared.contracts.base import Event
from shared.contracts.escalation import EscalationResolved, EscalationTierAdvanced, EscalationTriggered
from shared.contracts.intake import RequestCancelled
from shared.contracts.matching import CoordinatorAlerted, PeerAssigned
from shared.contracts.notify import NoticeKind
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    DebriefOffered,
    ExposureCheckinOffered,
    FollowupDue,
    FollowupOverdue,
    PeerOverloaded,
)


@dataclass(frozen=True)
class Person:
    """One person, by the pseudonym their token's `sub` carries (a peer's peer_ref, a member's member_ref)."""

    agency: str
    ref: str


@dataclass(frozen=True)
class OnCall:
    """Whoever the agency's schedule has on call for a role when the event happened."""

    agency: str
    role: str


@dataclass(frozen=True)
class Coordinators:
    agency: str


@dataclass(frozen=True)
class CasePeer:
    """The peer last offered the case."""

    agency: str
    case_id: str


@dataclass(frozen=True)
class Raiser:
    """The peer who raised an escalation (the peer of its case, when a peer raised it)."""

    agency: str
    escalation_id: str


Audience = Person | OnCall | Coordinators | CasePeer | Raiser


@dataclass(frozen=True)
class Page:
    escalation_id: str
    tier: int
    role: str


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    audience: Audience
    link: str
    page: Page | None = None
    opt_in: bool = False  # only for people who asked for these (responders)


TEXT: dict[str, str] = {
    "offer": "You have a new peer-support request — open Peerline",
    "page": "Urgent: you are paged for a Peerline escalation — open Peerline now",
    "unmatched": "A support request is waiting for a peer — open Peerline",
    "coordinator_alert": "Your peer team needs a coordinator — open Peerline",
    "overload": "A peer on your team needs their load reviewed — open Peerline",
    "debrief_offer": "A voluntary support session is offered to you — open Peerline",
    "debrief_accepted": "A support session was accepted — open Peerline",
    "debrief_declined": "A support session was declined — open Peerline",
    "exposure_checkin": "A voluntary check-in is offered to you — open Peerline",
    "followup_due": "A follow-up is due — open Peerline",
    "followup_overdue": "A follow-up is overdue — open Peerline",
    "case_cancelled": "A peer-support request was withdrawn — open Peerline",
    "escalation_outcome": "An escalation you raised has an outcome — open Peerline",
}
TITLE = "Peerline"


def notices_for(agency: str, aggregate_id: str, event: Event) -> list[Notice] | None:
    """What an event means for people (None: notify has no rule for it). `aggregate_id` is the envelope's
    subject."""
    match event:
        case PeerAssigned():
            who = Person(event.peer_agency or agency, event.peer_ref)
            return [Notice("offer", who, f"/peer/offers/{aggregate_id}")]
        case EscalationTriggered() if event.chain:
            role = event.chain[0].role
            return [_page(agency, aggregate_id, 1, role)]
        case EscalationTierAdvanced():
            return [_page(agency, aggregate_id, event.tier, event.role)]
        case EscalationResolved():
            return [
                Notice("escalation_outcome", Raiser(agency, aggregate_id), f"/escalations/{aggregate_id}")
            ]
        case CoordinatorAlerted():
            kind: NoticeKind = "unmatched" if event.reason == "request_unmatched" else "coordinator_alert"
            return [
                Notice(kind, Coordinators(event.case_agency or agency), f"/coordinator/cases/{aggregate_id}")
            ]
        case RequestCancelled():
            return [Notice("case_cancelled", CasePeer(agency, aggregate_id), "/peer/cases")]
        case PeerOverloaded():
            return [Notice("overload", Coordinators(agency), "/coordinator/peers")]
        case FollowupDue():
            return [Notice("followup_due", Person(agency, event.peer_ref), "/peer/followups")]
        case FollowupOverdue():
            link = "/peer/followups"
            return [
                Notice("followup_overdue", Person(agency, event.peer_ref), link),
                Notice("followup_overdue", Coordinators(agency), "/coordinator/followups"),
            ]
        case DebriefOffered():
            who = Person(agency, event.member_ref)
            return [Notice("debrief_offer", who, f"/me/debriefs/{aggregate_id}", opt_in=True)]
        case DebriefAccepted():
            return [Notice("debrief_accepted", Coordinators(agency), "/coordinator/debriefs")]
        case DebriefDeclined():
            return [Notice("debrief_declined", Coordinators(agency), "/coordinator/debriefs")]
        case ExposureCheckinOffered():
            return [Notice("exposure_checkin", Person(agency, event.member_ref), "/me/checkins", opt_in=True)]
        case EscalationTriggered():  # with nobody in its chain to page
            return []
    return None


def _page(agency: str, escalation_id: str, tier: int, role: str) -> Notice:
    return Notice(
        "page", OnCall(agency, role), f"/escalations/{escalation_id}", Page(escalation_id, tier, role)
    )


def audience_key(audience: Audience) -> str:
    match audience:
        case Person():
            return f"person/{audience.agency}/{audience.ref}"
        case OnCall():
            return f"oncall/{audience.agency}/{audience.role}"
        case Coordinators():
            return f"coordinators/{audience.agency}"
        case CasePeer():
            return f"casepeer/{audience.agency}/{audience.case_id}"
        case Raiser():
            return f"raiser/{audience.agency}/{audience.escalation_id}"


def notice_id(source_event_id: str, audience: Audience) -> str:
    """One notice per event and audience, however often the event is delivered."""
    return (
        "n-"
        + uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-notify/{source_event_id}/{audience_key(audience)}").hex
    )


def delivery_id(notice: str, contact_id: str) -> str:
    return "d-" + uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-notify/{notice}/{contact_id}").hex


# --- Quiet hours --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quiet:
    start: time
    end: time
    tz: str = "UTC"


def deliver_at(at: datetime, quiet: Quiet | None, urgent: bool) -> datetime:
    """When a message may go out: now, or (not for pages) when the person's quiet hours end."""
    if urgent or quiet is None or quiet.start == quiet.end:
        return at
    local = at.astimezone(ZoneInfo(quiet.tz))
    t = local.time().replace(tzinfo=None)
    overnight = quiet.start > quiet.end
    inside = (t >= quiet.start or t < quiet.end) if overnight else (quiet.start <= t < quiet.end)
    if not inside:
        return at
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(at.tzinfo)


# --- Retries and outcomes -----------------------------------------------------------------------------


def retry_at(attempts: int, now: datetime, backoff: Sequence[float]) -> datetime | None:
    """After `attempts` failed tries: when to try again, or None when the retries are used up."""
    if attempts > len(backoff):
        return None
    return now + timedelta(seconds=backoff[attempts - 1])


PageOutcome = Literal["pending", "reached", "missed"]


def page_outcome(statuses: Sequence[str]) -> PageOutcome:
    """A page reached someone once any delivery went out; it is missed when none can any more."""
    if "sent" in statuses:
        return "reached"
    if all(s == "dead" for s in statuses):
        return "missed"
    return "pending"
