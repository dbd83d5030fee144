"""The peer directory's rules: a peer's lifecycle and availability. Pure: no I/O, no clock.

application → selected → trained → active (or enrolled directly as active); deselected at any point.
A peer is matchable only when active, acknowledged, on duty, inside a weekly window (if any are set),
not on a break, not overloaded, re-confirmed within the agency's period, and with training not lapsed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Event
from shared.contracts.matching import (
    AvailabilityWindow,
    ConfidentialityAcknowledged,
    MentorPaired,
    PeerActivated,
    PeerApplied,
    PeerAvailabilityChanged,
    PeerAvailabilityConfirmed,
    PeerAvailabilityWindowsSet,
    PeerDeselected,
    PeerEnrolled,
    PeerReconfirmationRequested,
    PeerSelected,
    PeerTrainingRecorded,
)
from shared.contracts.notify import PeerReachabilityChanged
from shared.contracts.wellness import PeerBreakEnded, PeerBreakRequested, PeerOverloaded, PeerRecovered

FOREVER = datetime.max.replace(tzinfo=ZoneInfo("UTC"))


class Policy(BaseModel):
    """Per-agency matching policy (configuration, not code)."""

    model_config = ConfigDict(frozen=True)

    respond_within_minutes: float = Field(default=15.0, ge=1, le=24 * 60)
    reconfirm_every_days: float = Field(default=90.0, ge=1, le=730)
    remind_days_before: float = Field(default=14.0, ge=0, le=365)
    recent_days: float = Field(default=7.0, gt=0, le=365)
    weight_active: float = Field(default=10.0, ge=0, le=1000)
    weight_recent: float = Field(default=3.0, ge=0, le=1000)
    weight_discipline: float = Field(default=4.0, ge=0, le=1000)
    weight_language: float = Field(default=6.0, ge=0, le=1000)
    # Offer only to peers notify can reach, even before notify has reported on anyone in the agency
    # (once it has, unreachable peers are left out whatever this says).
    require_reachable: bool = False


class Rejected(Exception):
    """The directory command does not fit the peer's current state."""


@dataclass(frozen=True)
class Peer:
    peer_ref: str
    agency: str
    discipline: str = "other"
    unit: str | None = None
    languages: tuple[str, ...] = ("en",)
    member_ref: str | None = None
    supervisor_refs: tuple[str, ...] = ()
    stage: str = "new"  # new | applicant | selected | trained | active | deselected
    trainings: int = 0
    training_expires: str | None = None  # ISO date the latest certification lapses; None: no expiry
    mentor_ref: str | None = None
    acknowledged: bool = False
    on_duty: bool = False
    windows: tuple[AvailabilityWindow, ...] = ()
    tz: str = "UTC"
    break_until: datetime | None = None  # self-declared or requested through wellness
    overloaded: bool = False
    confirmed_at: datetime | None = None
    reminded_due_by: str | None = None
    active_cases: int = 0
    recent_assignments: int = 0
    reachable: bool | None = None  # None: notify has said nothing about this peer's agency yet

    def on_break(self, now: datetime) -> bool:
        return self.break_until is not None and now < self.break_until

    def training_lapsed(self, now: datetime) -> bool:
        return self.training_expires is not None and self.training_expires < now.date().isoformat()

    def unconfirmed(self, now: datetime, policy: Policy) -> bool:
        return self.confirmed_at is None or now - self.confirmed_at > timedelta(
            days=policy.reconfirm_every_days
        )


def with_load(peer: Peer, active_cases: int, recent_assignments: int) -> Peer:
    """The peer with another load. Matching does this for every candidate of every batch, where
    `dataclasses.replace` (which re-runs `__init__` over every field) costs ten times as much."""
    copy = object.__new__(Peer)
    copy.__dict__.update(peer.__dict__, active_cases=active_cases, recent_assignments=recent_assignments)
    return copy


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def available_at(peer: Peer, now: datetime) -> bool:
    """Inside one of the peer's weekly windows (in their time zone); no windows = always."""
    if not peer.windows:
        return True
    try:
        local = now.astimezone(ZoneInfo(peer.tz))
    except ZoneInfoNotFoundError:
        local = now
    minute = local.hour * 60 + local.minute
    return any(
        w.day == local.weekday() and _minutes(w.start) <= minute < _minutes(w.end) for w in peer.windows
    )


def defect(peer: Peer) -> str | None:
    """Why a stored peer record cannot be evaluated (a time without a zone, a zone that is not one), or
    None. Matching skips such a record instead of failing every request that would consider the peer."""
    for name in ("break_until", "confirmed_at"):
        value = getattr(peer, name)
        if value is not None and value.utcoffset() is None:
            return f"{name} has no time zone"
    try:
        ZoneInfo(peer.tz)
    except (ZoneInfoNotFoundError, ValueError):
        return "tz is not a known time zone"
    return None


def _until(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else FOREVER


def evolve(peer: Peer, event: Event, at: datetime) -> Peer:
    """Fold one directory event; `at` is the event's time (re-confirmation counts from it)."""
    match event:
        case PeerApplied() | PeerEnrolled():
            stage = "active" if isinstance(event, PeerEnrolled) else "applicant"
            mentor = event.mentor_ref if isinstance(event, PeerEnrolled) else None
            return replace(
                peer,
                discipline=event.discipline,
                unit=event.unit,
                languages=tuple(event.languages),
                member_ref=event.member_ref,
                supervisor_refs=tuple(event.supervisor_refs),
                stage=stage,
                mentor_ref=mentor,
                confirmed_at=at,
            )
        case PeerSelected():
            return replace(peer, stage="selected")
        case PeerTrainingRecorded():
            stage = "trained" if peer.stage == "selected" else peer.stage
            expires = event.expires_on  # the latest training on record sets the expiry
            return replace(peer, stage=stage, trainings=peer.trainings + 1, training_expires=expires)
        case PeerActivated():
            return replace(peer, stage="active", confirmed_at=at)
        case MentorPaired():
            return replace(peer, mentor_ref=event.mentor_ref)
        case ConfidentialityAcknowledged():
            return replace(peer, acknowledged=True)
        case PeerAvailabilityChanged(reason="break"):
            return replace(peer, break_until=None if event.available else _until(event.until))
        case PeerAvailabilityChanged():
            return replace(peer, on_duty=event.available, confirmed_at=at)
        case PeerAvailabilityWindowsSet():
            return replace(peer, windows=tuple(event.windows), tz=event.tz, confirmed_at=at)
        case PeerAvailabilityConfirmed():
            return replace(peer, confirmed_at=at)
        case PeerReconfirmationRequested():
            return replace(peer, reminded_due_by=event.due_by)
        case PeerDeselected():
            return replace(peer, stage="deselected", on_duty=False)
        case PeerOverloaded():
            return replace(peer, overloaded=True)
        case PeerRecovered():
            return replace(peer, overloaded=False)
        case PeerBreakRequested():
            return replace(peer, break_until=_until(event.until))
        case PeerBreakEnded():
            return replace(peer, break_until=None)
        case PeerReachabilityChanged():
            return replace(peer, reachable=event.reachable)
    return peer


def reach_reported(peer: Peer) -> Peer:
    """Notify reports on the peer's agency: a peer it has not named as reachable has no working channel."""
    return peer if peer.reachable is not None else replace(peer, reachable=False)


def decide(peer: Peer, command: Event) -> list[Event]:
    """A coordinator's (or the peer's own) directory command, checked against the peer's stage."""
    stage = peer.stage
    match command:
        case PeerApplied() | PeerEnrolled() if stage != "new":
            raise Rejected("this peer is already in the directory")
        case PeerApplied() | PeerEnrolled():
            return [command]
    if stage == "new":
        raise Rejected("no such peer")
    if stage == "deselected":
        raise Rejected("the peer was deselected")
    match command:
        case PeerSelected() if stage != "applicant":
            raise Rejected("only an applicant can be selected")
        case PeerTrainingRecorded() if stage == "applicant":
            raise Rejected("select the applicant before recording training")
        case PeerActivated() if stage != "trained":
            raise Rejected("only a selected peer with training on record can be activated")
        case MentorPaired() if command.mentor_ref == peer.peer_ref:
            raise Rejected("a peer cannot mentor themselves")
    return [command]


def pair_mentor(peer: Peer, mentor: Peer | None) -> list[Event]:
    """Pair a new peer with an experienced, active one."""
    if mentor is None or mentor.stage != "active":
        raise Rejected("the mentor must be an active peer")
    if peer.stage == "active" and peer.mentor_ref is not None:
        raise Rejected("the peer already has a mentor")
    return decide(peer, MentorPaired(mentor_ref=mentor.peer_ref))


def reminder_due(peer: Peer, policy: Policy) -> tuple[datetime, datetime] | None:
    """(when to remind, the deadline) for an active peer's next re-confirmation."""
    if peer.stage != "active" or peer.confirmed_at is None:
        return None
    deadline = peer.confirmed_at + timedelta(days=policy.reconfirm_every_days)
    return deadline - timedelta(days=policy.remind_days_before), deadline
