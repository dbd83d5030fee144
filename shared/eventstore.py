"""Append to and load from the event log (one JetStream stream).

Every append is idempotent (`Nats-Msg-Id` = event id) and guarded per aggregate by optimistic
concurrency: the caller passes the aggregate version it decided on, the server rejects the write if
anything was appended to `ev.<agency>.<aggregate>.<id>.>` since.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import propagate, trace

from shared.envelope import STREAM, Envelope, aggregate_filter

WRONG_LAST_SEQUENCE = 10071
_tracer = trace.get_tracer("peerline.eventstore")


class ConcurrencyConflict(Exception):
    """Someone appended to the aggregate since it was loaded: reload, decide again, retry."""

    def __init__(self, filter_subject: str, expected: int) -> None:
        super().__init__(f"{filter_subject} moved past version {expected}")
        self.filter_subject = filter_subject
        self.expected = expected


@dataclass(frozen=True)
class Stored:
    envelope: Envelope
    seq: int


@dataclass(frozen=True)
class History:
    """One aggregate's events in order; `version` is the stream sequence of the last one (0 if none)."""

    events: list[Stored]

    @property
    def version(self) -> int:
        return self.events[-1].seq if self.events else 0


def headers_for(envelope: Envelope) -> dict[str, str]:
    headers = {"Nats-Msg-Id": envelope.id, "Ce-Type": envelope.type}
    propagate.inject(headers)
    return headers


class EventStore:
    def __init__(self, js: JetStreamContext, stream: str = STREAM, retries: int = 5) -> None:
        self._js = js
        self._stream = stream
        self._retries = retries

    async def append(self, envelopes: Sequence[Envelope], expected: int | None) -> int:
        """Append events of ONE aggregate. `expected` is the version decided on (0 = new aggregate;
        None = no check). Returns the new version. Raises ConcurrencyConflict."""
        if not envelopes:
            raise ValueError("nothing to append")
        first = envelopes[0]
        filt = aggregate_filter(first.agency, first.aggregate, first.subject)
        with _tracer.start_as_current_span(
            f"{first.event_name} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.destination.name": first.nats_subject},
        ):
            version = expected
            for env in envelopes:
                if aggregate_filter(env.agency, env.aggregate, env.subject) != filt:
                    raise ValueError("one append holds events of one aggregate")
                version = await self._publish(env, filt, version)
            assert version is not None
            return version

    async def _publish(self, env: Envelope, filt: str, expected: int | None) -> int:
        headers = headers_for(env)
        if expected is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected)
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = filt
        data = env.to_bytes()
        for attempt in range(self._retries):
            try:
                ack = await self._js.publish(env.nats_subject, data, stream=self._stream, headers=headers)
                return ack.seq
            except BadRequestError as err:
                if err.err_code != WRONG_LAST_SEQUENCE:
                    raise
                landed = await self._landed(filt, env.id)
                if landed is not None:  # our earlier try landed; its ack was lost
                    return landed
                raise ConcurrencyConflict(filt, expected or 0) from err
            except (TimeoutError, NatsTimeout, NoRespondersError):
                if attempt == self._retries - 1:
                    raise
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _landed(self, filt: str, event_id: str) -> int | None:
        """The sequence of `event_id` if it is the aggregate's last event."""
        try:
            msg = await self._js.get_last_msg(self._stream, filt)
        except NotFoundError:
            return None
        if (msg.headers or {}).get("Nats-Msg-Id") == event_id:
            return msg.seq
        return None

    async def load(self, agency: str, aggregate: str, aggregate_id: str) -> History:
        """Every event of one aggregate, in order."""
        filt = aggregate_filter(agency, aggregate, aggregate_id)
        events: list[Stored] = []
        seq = 1
        while True:
            try:
                msg = await self._js.get_msg(self._stream, seq=seq, subject=filt, next=True, direct=True)
            except NotFoundError:
                return History(events)
            assert msg.data is not None and msg.seq is not None
            events.append(Stored(Envelope.from_bytes(msg.data), msg.seq))
            seq = msg.seq + 1
