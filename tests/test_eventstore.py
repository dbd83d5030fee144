"""The event store against a real nats-server: concurrency, idempotency, loading."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import ConcurrencyConflict, EventStore

pytestmark = pytest.mark.integration


def requested(case_id: str, agency: str = "cfd", **kw: object) -> Envelope:
    payload = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    return Envelope.wrap(payload, agency=agency, subject=case_id, source="test", **kw)  # type: ignore[arg-type]


def cancelled(case_id: str) -> Envelope:
    return Envelope.wrap(RequestCancelled(), agency="cfd", subject=case_id, source="test")


async def test_append_then_load_returns_events_in_order(js: JetStreamContext) -> None:
    store = EventStore(js)
    case = new_id("c")
    v1 = await store.append([requested(case)], expected=0)
    v2 = await store.append([cancelled(case)], expected=v1)
    history = await store.load("cfd", "case", case)
    assert [s.envelope.event_name for s in history.events] == ["support_requested", "request_cancelled"]
    assert history.version == v2 > v1


async def test_stale_expected_version_is_a_conflict(js: JetStreamContext) -> None:
    store = EventStore(js)
    case = new_id("c")
    v1 = await store.append([requested(case)], expected=0)
    await store.append([cancelled(case)], expected=v1)
    with pytest.raises(ConcurrencyConflict):
        await store.append([cancelled(case)], expected=v1)
    with pytest.raises(ConcurrencyConflict):
        await store.append([requested(case)], expected=0)


async def test_racing_writers_exactly_one_wins(js: JetStreamContext) -> None:
    store = EventStore(js)
    case = new_id("c")
    v1 = await store.append([requested(case)], expected=0)
    results = await asyncio.gather(
        *(store.append([cancelled(case)], expected=v1) for _ in range(8)), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 7


async def test_other_aggregates_do_not_conflict(js: JetStreamContext) -> None:
    store = EventStore(js)
    a, b = new_id("c"), new_id("c")
    await store.append([requested(a)], expected=0)
    assert await store.append([requested(b)], expected=0) > 0


async def test_duplicate_event_id_is_stored_once(js: JetStreamContext) -> None:
    store = EventStore(js)
    case = new_id("c")
    env = requested(case)
    first = await store.append([env], expected=None)
    again = await store.append([env], expected=None)
    assert again == first
    assert len((await store.load("cfd", "case", case)).events) == 1


async def test_retry_after_lost_ack_is_recognised_as_landed(js: JetStreamContext) -> None:
    """Same event id AND same expected version (the lost-ack retry) must not look like a conflict."""
    store = EventStore(js)
    case = new_id("c")
    env = requested(case)
    landed = await store.append([env], expected=0)
    assert await store.append([env], expected=0) == landed


async def test_load_of_unknown_aggregate_is_empty(js: JetStreamContext) -> None:
    history = await EventStore(js).load("cfd", "case", new_id("c"))
    assert history.events == [] and history.version == 0


async def test_log_stream_refuses_delete_and_purge(js: JetStreamContext) -> None:
    info = await js.stream_info(STREAM)
    assert info.config.deny_delete and info.config.deny_purge
    assert not info.config.max_age


async def test_what_an_aggregate_subject_holds_that_is_no_event_of_it_is_left_out_and_appends_go_on(
    js: JetStreamContext,
) -> None:
    """Bytes that are no event, and an event naming another case, published under a case's subjects (as
    a buggy or hostile publisher could): the case still loads, and its next append is not refused."""
    store = EventStore(js)
    case, other = new_id("c"), new_id("c")
    v1 = await store.append([requested(case)], expected=0)
    await js.publish(f"ev.cfd.case.{case}.request_cancelled", b"{not json")
    stray = await js.publish(f"ev.cfd.case.{case}.request_cancelled", cancelled(other).to_bytes())
    history = await store.load("cfd", "case", case)
    assert [s.seq for s in history.events] == [v1]
    assert history.version == stray.seq
    v2 = await store.append([cancelled(case)], expected=history.version)
    assert (await store.load("cfd", "case", case)).version == v2
