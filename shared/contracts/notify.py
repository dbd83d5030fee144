"""Events produced by notify: what became of each message to a person, as metadata only.

A notice is one message about one log event to one audience (the offered peer, the clinician on call,
an agency's coordinators…); its id is derived from the event it is about, so it is the aggregate these
outcomes are recorded on (`ev.<agency>.notice.<notice_id>.*`). No event names a person, an address or
what the message said; `peer_reachability_changed` names a peer only by the pseudonym the log already
uses for them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.contracts.base import Event, event

NoticeKind = Literal[
    "offer",
    "page",
    "unmatched",
    "coordinator_alert",
    "overload",
    "debrief_offer",
    "debrief_accepted",
    "debrief_declined",
    "exposure_checkin",
    "followup_due",
    "followup_overdue",
    "case_cancelled",
    "escalation_outcome",
]
Channel = Literal["push", "email", "webhook", "sms"]


@event("notification_delivered", aggregate="notice")
class NotificationDelivered(Event):
    """A channel took the message (push service, mail server or webhook answered with success)."""

    source_event_id: str = Field(description="the log event the message was about")
    kind: NoticeKind
    channel: Channel
    attempts: int


@event("notification_undeliverable", aggregate="notice")
class NotificationUndeliverable(Event):
    """A channel kept refusing the message; after its retries it was dead-lettered."""

    source_event_id: str
    kind: NoticeKind
    channel: Channel
    attempts: int
    reason: Literal["refused", "unreachable", "gone"] = Field(
        description="refused: the receiver answered with an error; unreachable: no answer; gone: the "
        "subscription or address no longer exists"
    )


@event("page_missed", aggregate="notice")
class PageMissed(Event):
    """A page reached nobody. Escalation pages the next tier at once instead of waiting for the deadline."""

    escalation_id: str
    tier: int
    role: str
    reason: Literal["nobody_on_call", "no_working_channel", "all_channels_failed"]


@event("peer_reachability_changed", aggregate="reach")
class PeerReachabilityChanged(Event):
    """Whether a peer can be told about an offer: they have at least one working channel, or none.
    Matching may leave out a peer who cannot be reached (an offer they never hear of only expires)."""

    peer_ref: str
    reachable: bool
