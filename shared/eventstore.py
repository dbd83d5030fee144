"""Append to and load from the event log (one JetStream stream).

Every append is idempotent (`Nats-Msg-Id` = event id) and guarded per aggregate by optimistic
concurrency: the caller passes the aggregate version it decided on, the server rejects the write if
anything was appended to `ev.<agency>.<aggregate>.<id>.>` since. Several events of one decision are
one atomic batch publish: all of them are stored, or none.

`append_many` writes several aggregates' appends as ONE atomic batch publish (one durable write and
one ack for the lot, where one `append` per event pays a write and a round trip each); the stream must
allow atomic publishing (shared.topology). A refused batch stores nothing and is written append by
append instead, so one conflict never holds back the others.

`load` reads an aggregate with batched direct gets (`$JS.API.DIRECT.GET.<stream>` with `batch`, NATS
2.11+): its events in one round trip, answered on the client's own inbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from shared.contracts.base import UnknownEventType
from shared.directget import Raw, direct_batches
from shared.envelope import STREAM, Envelope, aggregate_filter, read_event
from shared.items import describe

WRONG_LAST_SEQUENCE = 10071
DUPLICATE_IN_BATCH = 10201  # an atomic batch holding an id the log already has (within its window)
MAX_BATCH = 1000  # the server's limit on messages in one atomic batch
LOAD_BATCH = 10_000  # messages per batched direct get: an aggregate's load is one round trip
log = logging.getLogger("peerline.eventstore")
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
    """One aggregate's events in order; `version` is the stream sequence of the last one (0 if none),
    counting those under its subjects that are no valid event of it (`last_seq`)."""

    events: list[Stored]
    last_seq: int = 0

    @property
    def version(self) -> int:
        return max(self.last_seq, self.events[-1].seq if self.events else 0)


@dataclass(frozen=True)
class Append:
    """Events of ONE aggregate with the version they were decided on (see `EventStore.append`), and the
    trace context their headers carry (None: the current one)."""

    envelopes: Sequence[Envelope]
    expected: int | None
    context: Context | None = None


class BatchRefused(Exception):
    """The server stored nothing of an atomic batch (a conflict, a duplicate id, atomic publishing off)."""

    def __init__(self, err_code: int, description: str) -> None:
        super().__init__(f"batch refused ({err_code}): {description}")
        self.err_code = err_code


def headers_for(envelope: Envelope, context: Context | None = None) -> dict[str, str]:
    headers = {"Nats-Msg-Id": envelope.id, "Ce-Type": envelope.type}
    propagate.inject(headers, context=context)
    return headers


class EventStore:
    def __init__(self, js: JetStreamContext, stream: str = STREAM, retries: int = 5) -> None:
        self._js = js
        self._stream = stream
        self._retries = retries

    @property
    def js(self) -> JetStreamContext:
        return self._js

    async def append(
        self, envelopes: Sequence[Envelope], expected: int | None, context: Context | None = None
    ) -> int:
        """Append events of ONE aggregate. `expected` is the version decided on (0 = new aggregate;
        None = no check); `context` the trace context to continue (None: the current one). Returns the
        new version. Raises ConcurrencyConflict."""
        if not envelopes:
            raise ValueError("nothing to append")
        first = envelopes[0]
        filt = aggregate_filter(first.agency, first.aggregate, first.subject)
        with _tracer.start_as_current_span(
            f"{first.event_name} publish",
            context=context,
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.destination.name": first.nats_subject},
        ):
            if any(aggregate_filter(e.agency, e.aggregate, e.subject) != filt for e in envelopes):
                raise ValueError("one append holds events of one aggregate")
            if len(envelopes) == 1:
                return await self._publish(first, filt, expected)
            return await self._publish_atomic(Append(envelopes, expected, context), filt)

    async def append_many(self, appends: Sequence[Append]) -> list[int | Exception]:
        """Several appends (each of one aggregate, all different) in one atomic batch. Per append: its
        new version, or the exception that stopped it (ConcurrencyConflict: reload, decide again).
        A refused or unanswered batch stored nothing, or (its ack lost) everything under the same ids:
        either way each append is then made on its own, where an id already stored counts as landed."""
        if not appends or any(not a.envelopes for a in appends):
            raise ValueError("nothing to append")
        if _batchable(appends):
            try:
                last = await self.publish_batch(appends)
            except (BatchRefused, TimeoutError, NatsTimeout, NoRespondersError):
                pass
            else:
                out: list[int | Exception] = []
                seq = last - sum(len(a.envelopes) for a in appends)  # a batch takes consecutive seqs
                for a in appends:
                    seq += len(a.envelopes)
                    out.append(seq)
                return out
        done = await asyncio.gather(
            *(self.append(a.envelopes, a.expected, a.context) for a in appends), return_exceptions=True
        )
        results: list[int | Exception] = []
        for result in done:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # a cancellation
            results.append(result)
        return results

    async def publish_batch(self, appends: Sequence[Append], timeout: float = 5.0) -> int:
        """All the appends' events stored together or not at all (each append's expected version is
        checked against the log before the batch); returns the sequence of the batch's last event.
        Raises BatchRefused."""
        msgs: list[tuple[str, bytes, dict[str, str]]] = []
        filters: set[str] = set()
        for a in appends:
            first = a.envelopes[0]
            filt = aggregate_filter(first.agency, first.aggregate, first.subject)
            if filt in filters:
                raise ValueError("one batch holds one append per aggregate")
            filters.add(filt)
            for i, env in enumerate(a.envelopes):
                if aggregate_filter(env.agency, env.aggregate, env.subject) != filt:
                    raise ValueError("one append holds events of one aggregate")
                headers = headers_for(env, a.context)
                headers["Nats-Expected-Stream"] = self._stream
                if i == 0 and a.expected is not None:  # checked against the log as it was before the batch
                    headers["Nats-Expected-Last-Subject-Sequence"] = str(a.expected)
                    headers["Nats-Expected-Last-Subject-Sequence-Subject"] = filt
                msgs.append((env.nats_subject, env.to_bytes(), headers))
        batch_id = uuid.uuid4().hex
        with _tracer.start_as_current_span(
            "batch publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.batch.message_count": len(msgs)},
        ):
            nc = self._js._nc  # the batch's messages go out as plain publishes; only the commit is answered
            for n, (subject, data, headers) in enumerate(msgs, start=1):
                headers["Nats-Batch-Id"] = batch_id
                headers["Nats-Batch-Sequence"] = str(n)
                if n < len(msgs):
                    await nc.publish(subject, data, headers=headers)
            headers["Nats-Batch-Commit"] = "1"
            reply = await nc.request(subject, data, timeout=timeout, headers=headers)
        ack = json.loads(reply.data)
        if "error" in ack:
            raise BatchRefused(int(ack["error"].get("err_code", 0)), str(ack["error"].get("description")))
        if ack.get("batch") != batch_id or ack.get("count") != len(msgs):
            raise BatchRefused(0, f"unexpected batch ack for {len(msgs)} messages: {ack}")
        return int(ack["seq"])

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
                landed = await self._landed(filt, env.id, expected or 0)
                if landed is not None:  # an earlier try landed (its ack lost, or a batch's)
                    return landed
                raise ConcurrencyConflict(filt, expected or 0) from err
            except (TimeoutError, NatsTimeout, NoRespondersError):
                if attempt == self._retries - 1:
                    raise
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _publish_atomic(self, append: Append, filt: str) -> int:
        """Several events of one aggregate in one atomic batch: all stored, or none. As for one event, a
        try whose ack was lost is told from someone else's write by its first id; a batch whose ids the
        log already holds (the same decision sent again) is stored once."""
        count, first = len(append.envelopes), append.envelopes[0].id
        for attempt in range(self._retries):
            try:
                return await self.publish_batch([append])
            except BatchRefused as err:
                if err.err_code not in (WRONG_LAST_SEQUENCE, DUPLICATE_IN_BATCH):
                    raise
                landed = await self._landed(filt, first, append.expected or 0)
                if landed is not None:
                    return landed + count - 1  # a batch takes consecutive sequences
                if err.err_code == WRONG_LAST_SEQUENCE:
                    raise ConcurrencyConflict(filt, append.expected or 0) from err
                return await self._last(filt)
            except (TimeoutError, NatsTimeout, NoRespondersError):
                if attempt == self._retries - 1:
                    raise
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _last(self, filt: str) -> int:
        """The aggregate's version: the sequence of the last message under its subjects."""
        try:
            msg = await self._js.get_last_msg(self._stream, filt, direct=True)
        except NotFoundError:
            return 0
        assert msg.seq is not None
        return msg.seq

    async def _landed(self, filt: str, event_id: str, after: int) -> int | None:
        """The sequence of `event_id` if it is the aggregate's next event after version `after` (it was
        appended at exactly that version, whatever followed it since)."""
        try:
            msg = await self._js.get_msg(self._stream, seq=after + 1, subject=filt, next=True, direct=True)
        except NotFoundError:
            return None
        if (msg.headers or {}).get("Nats-Msg-Id") == event_id:
            return msg.seq
        return None

    async def fetch(self, filter_subject: str, start: int = 1, batch: int = LOAD_BATCH) -> list[Raw]:
        """Every message under `filter_subject` from sequence `start` on, in order, `batch` a round trip."""
        return await direct_batches(self._js._nc, self._stream, filter_subject, start, batch)

    async def load(self, agency: str, aggregate: str, aggregate_id: str) -> History:
        """Every event of one aggregate, in order. Whatever its subjects hold that can never be an event of
        it (unreadable, invalid, or naming another aggregate) is left out, as every consumer dead-letters
        it, but still counts for the version: one bad message never blocks the aggregate's next append.
        An event of a type this release does not know is kept: deciding without it could be wrong."""
        filt = aggregate_filter(agency, aggregate, aggregate_id)
        events: list[Stored] = []
        last = 0
        for raw in await self.fetch(filt):
            last = raw.seq
            try:
                events.append(Stored(read_event(raw.data, raw.subject)[0], raw.seq))
            except UnknownEventType:  # a newer release's event: kept, so whoever folds it fails loudly
                events.append(Stored(Envelope.from_bytes(raw.data), raw.seq))
            except ValueError as exc:
                log.warning("%s: seq %d is no valid event of it, left out: %s", filt, raw.seq, describe(exc))
        return History(events, last)


def _batchable(appends: Sequence[Append]) -> bool:
    """More than one append, distinct aggregates, within the server's batch size."""
    if len(appends) < 2 or sum(len(a.envelopes) for a in appends) > MAX_BATCH:
        return False
    filters = {
        aggregate_filter(a.envelopes[0].agency, a.envelopes[0].aggregate, a.envelopes[0].subject)
        for a in appends
    }
    return len(filters) == len(appends)
