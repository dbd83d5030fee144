"""Durable consumers on the log, one module per consuming service; `shared.topology` provisions them all.

Each durable's event list is the one list of what it delivers: a projection or reaction reading it takes
its events from here (`shared.topology.consumer(durable).events`), never lists them again.
"""

from shared.contracts import matching
from shared.contracts.base import Event

ASSIGNMENT: tuple[type[Event], ...] = (
    matching.PeerAssigned,
    matching.AssignmentAccepted,
    matching.AssignmentDeclined,
    matching.AssignmentExpired,
    matching.RequestUnmatched,
)
"""What becomes of a request's assignment: offered, accepted, declined, expired, or nobody fits."""
