"""Wire contracts: one module per producing service. Importing this package registers them all."""

from shared.contracts import escalation, intake, matching, notify, tracking, wellness
from shared.contracts.base import Event, UnknownEventType, event_types, resolve

__all__ = [
    "Event",
    "UnknownEventType",
    "escalation",
    "event_types",
    "intake",
    "matching",
    "notify",
    "resolve",
    "tracking",
    "wellness",
]
