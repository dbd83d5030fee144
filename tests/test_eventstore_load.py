"""Loading an aggregate with batched direct gets (shared.directget through EventStore.load)."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.envelope import Envelope, aggregate_filter, new_id
from shared.eventstore import EventStore
from tests.support.bus import connect

pytestmark = pytest.mark.integration


def cancelled(case_id: str) -> Envelope:
    return Envelope.wrap(RequestCancelled(), agency="cfd", subject=case_id, source="test")


async def interleaved(store: EventStore, n: int) -> tuple[str, list[int]]:
    """A case with `n` events, each followed by one of another case; returns it and its sequences."""
    case_id, other = new_id("c"), new_id("c")
    opened = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    seqs = [await store.append([Envelope.wrap(opened, agency="cfd", subject=case_id, source="test")], 0)]
    await store.append([cancelled(other)], None)
    for _ in range(n - 1):
        seqs.append(await store.append([cancelled(case_id)], seqs[-1]))
        await store.append([cancelled(other)], None)
    return case_id, seqs


async def test_a_load_reads_the_aggregate_alone_in_order(js: JetStreamContext) -> None:
    store = EventStore(js)
    case_id, seqs = await interleaved(store, 5)
    history = await store.load("cfd", "case", case_id)
    assert [s.seq for s in history.events] == seqs
    assert history.version == seqs[-1]
    assert [s.envelope.event_name for s in history.events] == [
        "support_requested",
        *["request_cancelled"] * 4,
    ]


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 6])
async def test_batches_smaller_than_the_aggregate_are_followed_up(js: JetStreamContext, batch: int) -> None:
    store = EventStore(js)
    case_id, seqs = await interleaved(store, 5)
    raw = await store.fetch(aggregate_filter("cfd", "case", case_id), batch=batch)
    assert [r.seq for r in raw] == seqs
    assert [
        r.seq for r in await store.fetch(aggregate_filter("cfd", "case", case_id), start=seqs[2])
    ] == seqs[2:]


async def test_an_aggregate_with_no_events_loads_empty(js: JetStreamContext) -> None:
    history = await EventStore(js).load("cfd", "case", new_id("c"))
    assert history.events == [] and history.version == 0


async def test_a_service_loads_within_its_own_permissions(nats_url: str, js: JetStreamContext) -> None:
    """The answers come to the service's own inbox prefix, the only one it may subscribe to."""
    case_id, seqs = await interleaved(EventStore(js), 3)
    matching = await connect(nats_url, "matching")
    try:
        history = await EventStore(matching.jetstream()).load("cfd", "case", case_id)
    finally:
        await matching.close()
    assert [s.seq for s in history.events] == seqs
