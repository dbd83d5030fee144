"""Several aggregates' appends in one atomic batch (EventStore.append_many / publish_batch)."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.contracts.matching import CoordinatorAlerted, RequestUnmatched
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import Append, BatchRefused, ConcurrencyConflict, EventStore

pytestmark = pytest.mark.integration


def requested(case_id: str) -> Envelope:
    payload = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    return Envelope.wrap(payload, agency="cfd", subject=case_id, source="test")


def cancelled(case_id: str) -> Envelope:
    return Envelope.wrap(RequestCancelled(), agency="cfd", subject=case_id, source="test")


def unmatched(case_id: str) -> list[Envelope]:
    events = [RequestUnmatched(reason="no eligible peer"), CoordinatorAlerted(reason="request_unmatched")]
    return [Envelope.wrap(e, agency="cfd", subject=case_id, source="test") for e in events]


async def opened(store: EventStore, n: int) -> list[tuple[str, int]]:
    cases = [new_id("c") for _ in range(n)]
    return [(c, await store.append([requested(c)], expected=0)) for c in cases]


async def names(store: EventStore, case_id: str) -> list[str]:
    return [s.envelope.event_name for s in (await store.load("cfd", "case", case_id)).events]


async def test_a_batch_lands_whole_in_consecutive_sequences(js: JetStreamContext) -> None:
    store = EventStore(js)
    (a, va), (b, vb), (c, vc) = await opened(store, 3)
    appends = [Append([cancelled(a)], va), Append(unmatched(b), vb), Append([cancelled(c)], vc)]
    versions = await store.append_many(appends)
    assert all(isinstance(v, int) for v in versions)
    assert versions[1] == versions[0] + 2 and versions[2] == versions[1] + 1  # type: ignore[operator]
    for case_id, version in zip((a, b, c), versions, strict=True):
        assert (await store.load("cfd", "case", case_id)).version == version
    assert await names(store, b) == ["support_requested", "request_unmatched", "coordinator_alerted"]


async def test_a_stale_version_refuses_the_whole_atomic_batch(js: JetStreamContext) -> None:
    store = EventStore(js)
    (a, va), (b, vb) = await opened(store, 2)
    await store.append([cancelled(b)], expected=vb)  # b moves on
    last = (await js.stream_info(STREAM)).state.last_seq
    with pytest.raises(BatchRefused):
        await store.publish_batch([Append([cancelled(a)], va), Append([cancelled(b)], vb)])
    assert (await js.stream_info(STREAM)).state.last_seq == last  # nothing of it stored
    assert await names(store, a) == ["support_requested"]


async def test_append_many_lands_the_others_and_reports_the_conflict(js: JetStreamContext) -> None:
    store = EventStore(js)
    (a, va), (b, vb), (c, vc) = await opened(store, 3)
    await store.append([cancelled(b)], expected=vb)
    results = await store.append_many(
        [Append([cancelled(a)], va), Append([cancelled(b)], vb), Append([cancelled(c)], vc)]
    )
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert isinstance(results[1], ConcurrencyConflict)
    assert await names(store, a) == await names(store, c) == ["support_requested", "request_cancelled"]
    assert await names(store, b) == ["support_requested", "request_cancelled"]  # not twice


async def test_the_same_batch_again_lands_once(js: JetStreamContext) -> None:
    """A retry after a lost ack: the ids are stored already, so the batch is refused and every append
    reports the version it landed at, without a second copy."""
    store = EventStore(js)
    (a, va), (b, vb) = await opened(store, 2)
    appends = [Append([cancelled(a)], va), Append(unmatched(b), vb)]
    first = await store.append_many(appends)
    with pytest.raises(BatchRefused):
        await store.publish_batch(appends)
    again = await store.append_many(appends)
    assert again == first
    assert await names(store, a) == ["support_requested", "request_cancelled"]
    assert await names(store, b) == ["support_requested", "request_unmatched", "coordinator_alerted"]


async def test_a_duplicate_id_inside_a_batch_stores_nothing(js: JetStreamContext) -> None:
    store = EventStore(js)
    (a, va), (b, vb) = await opened(store, 2)
    one = cancelled(a)
    twin = Envelope.wrap(RequestCancelled(), agency="cfd", subject=b, source="test", id=one.id)
    last = (await js.stream_info(STREAM)).state.last_seq
    with pytest.raises(BatchRefused):
        await store.publish_batch([Append([one], va), Append([twin], vb)])
    assert (await js.stream_info(STREAM)).state.last_seq == last


async def test_one_batch_holds_one_append_per_aggregate(js: JetStreamContext) -> None:
    store = EventStore(js)
    ((a, va),) = await opened(store, 1)
    with pytest.raises(ValueError):
        await store.publish_batch([Append([cancelled(a)], va), Append([cancelled(a)], va)])
    results = await store.append_many([Append([cancelled(a)], va), Append([cancelled(a)], va)])
    assert sorted(type(r).__name__ for r in results) == ["ConcurrencyConflict", "int"]
    assert await names(store, a) == ["support_requested", "request_cancelled"]


async def test_each_append_carries_its_own_trace(js: JetStreamContext) -> None:
    store = EventStore(js)
    (a, va), (b, vb) = await opened(store, 2)
    contexts = [
        trace.set_span_in_context(
            NonRecordingSpan(SpanContext(trace_id, 0x1234, is_remote=True, trace_flags=TraceFlags(1)))
        )
        for trace_id in (0xA1, 0xB2)
    ]
    versions = await store.append_many(
        [Append([cancelled(a)], va, contexts[0]), Append([cancelled(b)], vb, contexts[1])]
    )
    for version, trace_id in zip(versions, (0xA1, 0xB2), strict=True):
        msg = await js.get_msg(STREAM, seq=version, direct=True)  # type: ignore[arg-type]
        carried = trace.get_current_span(propagate.extract(msg.headers or {})).get_span_context()
        assert carried.trace_id == trace_id
