"""Wire contracts: one module per producing service. Importing this package registers them all."""

from shared.contracts import intake, matching
from shared.contracts.base import Event, UnknownEventType, event_types, resolve

__all__ = ["Event", "UnknownEventType", "event_types", "intake", "matching", "resolve"]
