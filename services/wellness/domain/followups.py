"""One follow-up after a case's initial contact (the `followup` aggregate)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from services.wellness.domain.common import Rejected, followup_id
from services.wellness.domain.policy import AgencyPolicy
from shared.contracts.base import Event
from shared.contracts.wellness import (
    FollowupCompleted,
    FollowupDue,
    FollowupOverdue,
    FollowupScheduled,
)

# --- follow-ups ----------------------------------------------------------------------------------

FollowupStatus = Literal["none", "scheduled", "due", "overdue", "completed"]


@dataclass(frozen=True)
class Followup:
    status: FollowupStatus = "none"
    case_id: str = ""
    peer_ref: str = ""
    due_at: datetime | None = None


def evolve_followup(state: Followup, event: Event) -> Followup:
    match event:
        case FollowupScheduled():
            due_at = datetime.fromisoformat(event.due_at)
            return Followup("scheduled", event.case_id, event.peer_ref, due_at)
        case FollowupDue():
            return replace(state, status="due")
        case FollowupOverdue():
            return replace(state, status="overdue")
        case FollowupCompleted():
            return replace(state, status="completed")
    return state


def plan_followups(
    case_id: str, peer_ref: str, contact_at: datetime, policy: AgencyPolicy
) -> list[tuple[str, FollowupScheduled]]:
    """(followup id, event) per follow-up the agency's schedule asks for after an initial contact."""
    return [
        (
            followup_id(case_id, n),
            FollowupScheduled(
                case_id=case_id, peer_ref=peer_ref, due_at=(contact_at + after).isoformat(), n=n
            ),
        )
        for n, after in enumerate(policy.followup_after, start=1)
    ]


def decide_due(state: Followup, now: datetime) -> list[Event]:
    if state.status != "scheduled" or state.due_at is None or now < state.due_at:
        return []
    return [FollowupDue(case_id=state.case_id, peer_ref=state.peer_ref)]


def decide_overdue(state: Followup, now: datetime, grace: timedelta) -> list[Event]:
    """Not completed within the grace period after it fell due. Falls due on the way if it has not."""
    if state.due_at is None or now < state.due_at + grace:
        return []
    overdue = FollowupOverdue(case_id=state.case_id, peer_ref=state.peer_ref)
    if state.status == "scheduled":
        return [*decide_due(state, now), overdue]
    return [overdue] if state.status == "due" else []


def complete_followup(state: Followup, peer_ref: str) -> list[Event]:
    if state.status == "none":
        raise Rejected("no such follow-up")
    if state.peer_ref != peer_ref:
        raise Rejected("not your follow-up")
    if state.status == "completed":
        raise Rejected("already completed")
    return [FollowupCompleted(case_id=state.case_id)]
