"""Base of every event payload, and the registry that maps a CloudEvents `type` to its model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # one NATS subject token: agencies and aggregate ids
AgencyId = Annotated[str, Field(pattern=ID_PATTERN, description="an agency's id (one subject token)")]


class Event(BaseModel):
    """A fact that happened. Frozen; metadata lives in the envelope, not here.

    Consumers read tolerantly: unknown fields are ignored.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: ClassVar[str]
    aggregate: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        return f"peerline.{cls.name}.v{cls.version}"


E = TypeVar("E", bound=type[Event])

_REGISTRY: dict[str, type[Event]] = {}
_UPCASTERS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {}


def event(name: str, aggregate: str, version: int = 1) -> Callable[[E], E]:
    """Class decorator: name an event, place it in an aggregate, register its wire type."""

    def register(cls: E) -> E:
        cls.name = name
        cls.aggregate = aggregate
        cls.version = version
        type_name = cls.type_name()
        if type_name in _REGISTRY:
            raise ValueError(f"event type {type_name} registered twice")
        _REGISTRY[type_name] = cls
        return cls

    return register


def upcaster(old_type: str, new_type: str) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Any]:
    """Register a function turning an old version's data into the next version's data."""

    def register(
        fn: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _UPCASTERS[old_type] = (new_type, fn)
        return fn

    return register


class UnknownEventType(LookupError):
    pass


def model_of(type_name: str) -> type[Event]:
    """The model a wire type is read as today (after upcasting); raises UnknownEventType."""
    while type_name in _UPCASTERS:
        type_name = _UPCASTERS[type_name][0]
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise UnknownEventType(type_name)
    return cls


def resolve(type_name: str, data: dict[str, Any]) -> Event:
    """Parse `data` as the registered model of `type_name`, upcasting old versions first."""
    while type_name in _UPCASTERS:
        type_name, fn = _UPCASTERS[type_name]
        data = fn(data)
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise UnknownEventType(type_name)
    return cls.model_validate(data)


def event_types() -> dict[str, type[Event]]:
    return dict(_REGISTRY)


def events_of(aggregate: str) -> tuple[type[Event], ...]:
    """Every registered event of one aggregate (each version), in registration order."""
    return tuple(cls for cls in _REGISTRY.values() if cls.aggregate == aggregate)
