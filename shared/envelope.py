"""The CloudEvents 1.0 envelope every event travels in, and the NATS subject it is stored under."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import shared.contracts  # noqa: F401  (registers every event type)
from shared.contracts.base import ID_PATTERN, Event, event_types, model_of, resolve

TOKEN = re.compile(ID_PATTERN)
STREAM = "PEERLINE_EVENTS"


def new_id(prefix: str) -> str:
    """A random identifier safe as one NATS subject token, e.g. `c-3f2a…`."""
    return f"{prefix}-{uuid.uuid4().hex}"


def check_token(value: str, what: str) -> str:
    if not TOKEN.match(value):
        raise ValueError(f"{what} must be lower-case letters, digits, '-' or '_' (got {value!r})")
    return value


def aggregate_filter(agency: str, aggregate: str, aggregate_id: str) -> str:
    """The subject wildcard holding every event of one aggregate instance."""
    return f"ev.{agency}.{aggregate}.{aggregate_id}.>"


class Envelope(BaseModel):
    """CloudEvents structured-mode JSON, plus Peerline's extensions."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: new_id("e"))
    source: str
    type: str
    subject: str = Field(description="the aggregate id", pattern=TOKEN.pattern)
    time: datetime
    datacontenttype: str = "application/json"
    agency: str = Field(pattern=TOKEN.pattern)
    correlationid: str | None = None
    causationid: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: Event,
        *,
        agency: str,
        subject: str,
        source: str,
        time: datetime | None = None,
        cause: Envelope | None = None,
        id: str | None = None,
    ) -> Envelope:
        """Wrap a payload. `cause` carries the correlation on from the event that led to this one."""
        extra: dict[str, Any] = {}
        if id is not None:
            extra["id"] = id
        return cls(
            source=source,
            type=payload.type_name(),
            subject=subject,
            time=time or datetime.now(UTC),
            agency=agency,
            correlationid=(cause.correlationid or cause.id) if cause else None,
            causationid=cause.id if cause else None,
            data=payload.model_dump(mode="json"),
            **extra,
        )

    @property
    def event_name(self) -> str:
        return self.type.split(".")[1]

    @property
    def aggregate(self) -> str:
        return model_of(self.type).aggregate

    @property
    def nats_subject(self) -> str:
        return f"ev.{self.agency}.{self.aggregate}.{self.subject}.{self.event_name}"

    def payload(self) -> Event:
        """The typed payload (upcast from older versions). Raises on unknown type or invalid data."""
        return resolve(self.type, self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


class SubjectDisagrees(ValueError):
    """An event stored under a subject that names another agency, aggregate instance or event."""


def read_event(data: bytes, subject: str) -> tuple[Envelope, Event]:
    """An event as the log holds it under `subject`: its envelope and typed payload.

    Raises pydantic's ValidationError (a ValueError) or UnknownEventType for bytes that are no valid event,
    and SubjectDisagrees when the subject's agency, aggregate id or event name is not the envelope's: the
    log's per-aggregate checks, NATS permissions and every consumer's filter go by the subject, so such an
    event would reach the wrong readers, or change an aggregate that never saw it appended."""
    env: Envelope = _ENVELOPE.validate_json(data)
    kind = env.type
    validator = _payloads.get(kind)
    event = resolve(kind, env.data) if validator is None else validator.validate_python(env.data)
    tokens = subject.split(".")
    if len(tokens) != 5 or (tokens[1], tokens[3], tokens[4]) != (env.agency, env.subject, kind.split(".")[1]):
        raise SubjectDisagrees("the subject's agency, aggregate id or event name is not the envelope's")
    return env, event


# pydantic's validators called directly (their model methods add a Python layer per call): the envelope's,
# and each current (not upcast) event type's payload validator, found once
_ENVELOPE = Envelope.__pydantic_validator__
_payloads: dict[str, Any] = {
    name: cls.__pydantic_validator__ for name, cls in event_types().items() if model_of(name) is cls
}
