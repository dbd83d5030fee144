"""Group commit (shared.groupcommit): concurrent appends share durable writes; each keeps its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from nats.js import JetStreamContext

from shared.envelope import STREAM, new_id
from shared.eventstore import Append, ConcurrencyConflict, EventStore
from shared.groupcommit import GroupCommit
from tests.test_eventstore_batch import cancelled, names, opened, requested

pytestmark = pytest.mark.integration


class CountingStore(EventStore):
    """The real store, counting its writes."""

    writes: int = 0

    async def append_many(self, appends: Sequence[Append]) -> list[int | Exception]:
        self.writes += 1
        return await super().append_many(appends)


async def test_concurrent_appends_share_writes_and_each_gets_its_own_version(js: JetStreamContext) -> None:
    store = CountingStore(js)
    log = GroupCommit(lambda: store)
    cases = [new_id("c") for _ in range(20)]
    versions = await asyncio.gather(*(log.append([requested(c)], expected=0) for c in cases))
    assert store.writes == 1  # all asked before the writer ran: one atomic write for the 20
    for case_id, version in zip(cases, versions, strict=True):
        assert (await store.load("cfd", "case", case_id)).version == version
    assert len(set(versions)) == 20


async def test_a_conflict_fails_only_its_own_append(js: JetStreamContext) -> None:
    store = EventStore(js)
    (a, va), (b, vb) = await opened(store, 2)
    await store.append([cancelled(a)], expected=va)  # a moves on
    log = GroupCommit(lambda: store)
    stale, fine, new = await asyncio.gather(
        log.append([cancelled(a)], expected=va),
        log.append([cancelled(b)], expected=vb),
        log.append([requested(c := new_id("c"))], expected=0),
        return_exceptions=True,
    )
    assert isinstance(stale, ConcurrencyConflict)
    assert isinstance(fine, int) and isinstance(new, int)
    assert await names(store, a) == ["support_requested", "request_cancelled"]
    assert await names(store, b) == ["support_requested", "request_cancelled"]
    assert await names(store, c) == ["support_requested"]


async def test_one_aggregate_twice_is_written_in_turn_and_a_repeat_lands_once(js: JetStreamContext) -> None:
    store = EventStore(js)
    log = GroupCommit(lambda: store)
    case = new_id("c")
    first, other = requested(case), requested(case)
    one, two = await asyncio.gather(
        log.append([first], expected=0), log.append([other], expected=0), return_exceptions=True
    )
    assert isinstance(one, int) and isinstance(two, ConcurrencyConflict)  # the version moved in between
    last = (await js.stream_info(STREAM)).state.last_seq
    again = await asyncio.gather(log.append([first], expected=0), log.append([first], expected=0))
    assert again == [one, one]  # the same event sent again: the version it landed at, stored once
    assert (await js.stream_info(STREAM)).state.last_seq == last
    assert await names(store, case) == ["support_requested"]


async def test_an_append_of_two_aggregates_is_refused_alone(js: JetStreamContext) -> None:
    store = EventStore(js)
    log = GroupCommit(lambda: store)
    a, b, c = (new_id("c") for _ in range(3))
    mixed, fine = await asyncio.gather(
        log.append([requested(a), requested(b)], expected=0),
        log.append([requested(c)], expected=0),
        return_exceptions=True,
    )
    assert isinstance(mixed, ValueError) and isinstance(fine, int)
    assert await names(store, c) == ["support_requested"]
    assert await names(store, a) == []
