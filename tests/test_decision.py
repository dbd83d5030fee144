"""The decision helper (shared.decision) on a real nats-server: retry on a real conflict, Busy as 503,
one event-id rule, and each of the log's two guards holding on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared import decision
from shared.auth import Auth, Verifier
from shared.contracts.base import Event
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.contracts.matching import CoordinatorAlerted, RequestUnmatched
from shared.decision import Aggregate, Busy, event_ids, payloads
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import ConcurrencyConflict, EventStore, History
from shared.httpapi import service_api
from tests.support.bus import connect

pytestmark = pytest.mark.integration
SOURCE = "peerline/test"


@pytest.fixture
async def rival(nats_url: str, nc: Client) -> AsyncIterator[EventStore]:
    """A second writer on its own connection, appending to the same aggregates."""
    other = await connect(nats_url)
    yield EventStore(other.jetstream())
    await other.close()


async def opened(store: EventStore) -> Aggregate:
    case = Aggregate("cfd", "case", new_id("c"))
    payload = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    await store.append([Envelope.wrap(payload, agency="cfd", subject=case.id, source=SOURCE)], expected=0)
    return case


def cancelled(case: Aggregate) -> Envelope:
    return Envelope.wrap(RequestCancelled(), agency=case.agency, subject=case.id, source=SOURCE)


async def names(store: EventStore, case: Aggregate) -> list[str]:
    return [s.envelope.event_name for s in (await store.load(case.agency, case.kind, case.id)).events]


def unmatched(_: History) -> list[Event]:
    return [RequestUnmatched(reason="no eligible peer"), CoordinatorAlerted(reason="request_unmatched")]


async def test_a_conflict_from_a_concurrent_writer_is_decided_again(
    js: JetStreamContext, rival: EventStore
) -> None:
    store = EventStore(js)
    case = await opened(store)
    seen: list[list[str]] = []

    def rule(history: History) -> list[Event]:
        seen.append([s.envelope.event_name for s in history.events])
        return unmatched(history)

    async def interfere(history: History) -> History:
        if not seen:  # between the first load and its append, someone else writes
            await rival.append([cancelled(case)], expected=history.version)
        return history

    done = await decision.decide(store, case, lambda h: h, rule, source=SOURCE, inputs=interfere)
    assert seen == [["support_requested"], ["support_requested", "request_cancelled"]]
    assert done.version == (await store.load(case.agency, case.kind, case.id)).version
    assert await names(store, case) == [
        "support_requested",
        "request_cancelled",
        "request_unmatched",
        "coordinator_alerted",
    ]


async def busy_decision(store: EventStore, rival: EventStore, case: Aggregate) -> None:
    async def always_interfere(history: History) -> History:
        await rival.append([cancelled(case)], expected=history.version)
        return history

    await decision.decide(
        store, case, lambda h: h, unmatched, source=SOURCE, inputs=always_interfere, attempts=3
    )


async def test_conflicts_past_the_attempts_give_busy_and_append_nothing(
    js: JetStreamContext, rival: EventStore
) -> None:
    store = EventStore(js)
    case = await opened(store)
    with pytest.raises(Busy):
        await busy_decision(store, rival, case)
    assert await names(store, case) == ["support_requested", *["request_cancelled"] * 3]


async def test_busy_is_a_503_with_retry_after_over_http(js: JetStreamContext, rival: EventStore) -> None:
    store = EventStore(js)
    case = await opened(store)
    public = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    auth = Auth(Verifier(issuer="peerline-dev", audience="peerline", public_key_pem=public))
    api = service_api("test", "a route whose record keeps changing", auth)

    @api.post("/decide", dependencies=[Auth.open("a test route")])
    async def decide_route() -> dict[str, str]:
        await busy_decision(store, rival, case)
        return {"status": "decided"}

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/decide")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "nothing was recorded" in response.json()["detail"]
    assert "request_unmatched" not in await names(store, case)


async def test_each_event_of_a_decision_is_stored(js: JetStreamContext) -> None:
    store = EventStore(js)
    case = await opened(store)
    done = await decision.decide(store, case, lambda h: h, unmatched, source=SOURCE, command_id="rematch")
    assert len({e.id for e in done.envelopes}) == 2
    assert await names(store, case) == ["support_requested", "request_unmatched", "coordinator_alerted"]


@pytest.mark.parametrize("count", [1, 2])
async def test_the_same_command_again_is_stored_once(js: JetStreamContext, count: int) -> None:
    """A rule that decides afresh every time (as a retried HTTP command would): the command id makes
    the second decision the same events, which the log already holds."""
    store = EventStore(js)
    case = await opened(store)

    def rule(_: History) -> list[Event]:
        return unmatched(_)[:count]

    first = await decision.decide(store, case, lambda h: h, rule, source=SOURCE, command_id="cmd-1")
    again = await decision.decide(store, case, lambda h: h, rule, source=SOURCE, command_id="cmd-1")
    assert [e.id for e in again.envelopes] == [e.id for e in first.envelopes]
    assert len(await names(store, case)) == 1 + count
    other = await decision.decide(store, case, lambda h: h, rule, source=SOURCE, command_id="cmd-2")
    assert len(await names(store, case)) == 1 + 2 * count  # another command is another decision
    assert {e.id for e in other.envelopes}.isdisjoint(e.id for e in first.envelopes)


async def test_without_a_command_id_every_event_id_is_new() -> None:
    case = Aggregate("cfd", "case", "c-1")
    assert event_ids(case, 2, None) != event_ids(case, 2, None)
    assert event_ids(case, 2, "x") == event_ids(case, 2, "x")
    assert len(set(event_ids(case, 3, "x"))) == 3
    assert set(event_ids(case, 1, "x")).isdisjoint(event_ids(Aggregate("cfd", "case", "c-2"), 1, "x"))


@pytest.mark.parametrize("count", [1, 2])
async def test_the_expected_version_refuses_a_stale_decision_with_new_ids(
    js: JetStreamContext, count: int
) -> None:
    """Dedupe defeated (fresh ids): the version check alone refuses the write."""
    store = EventStore(js)
    case = await opened(store)
    stale = (await store.load(case.agency, case.kind, case.id)).version
    await store.append([cancelled(case)], expected=stale)
    last = (await js.stream_info(STREAM)).state.last_seq
    with pytest.raises(ConcurrencyConflict):
        await store.append([cancelled(case) for _ in range(count)], expected=stale)
    assert (await js.stream_info(STREAM)).state.last_seq == last  # nothing of the decision


@pytest.mark.parametrize("count", [1, 2])
async def test_dedupe_holds_when_the_version_check_is_defeated(js: JetStreamContext, count: int) -> None:
    """The same events again with a stale version, or with none: stored once."""
    store = EventStore(js)
    case = await opened(store)
    version = (await store.load(case.agency, case.kind, case.id)).version
    envs = [cancelled(case) for _ in range(count)]
    landed = await store.append(envs, expected=version)
    for expected in (version, None):
        assert await store.append(envs, expected=expected) == landed
    assert await names(store, case) == ["support_requested", *["request_cancelled"] * count]


async def test_a_decision_cut_off_before_its_commit_leaves_nothing(
    nats_url: str, js: JetStreamContext
) -> None:
    """A writer that dies after sending part of a multi-event decision: the log holds none of it."""
    store = EventStore(js)
    case = await opened(store)
    version = (await store.load(case.agency, case.kind, case.id)).version
    dying = await connect(nats_url)
    first = cancelled(case)
    headers = {
        "Nats-Msg-Id": first.id,
        "Nats-Expected-Stream": STREAM,
        "Nats-Expected-Last-Subject-Sequence": str(version),
        "Nats-Expected-Last-Subject-Sequence-Subject": case.filter,
        "Nats-Batch-Id": new_id("b"),
        "Nats-Batch-Sequence": "1",
    }
    await dying.publish(first.nats_subject, first.to_bytes(), headers=headers)
    await dying.flush()
    await dying.close()  # the commit never comes
    assert await names(store, case) == ["support_requested"]
    await store.append([cancelled(case), cancelled(case)], expected=version)  # the next one lands whole
    assert payloads(await store.load(case.agency, case.kind, case.id))[1:] == [RequestCancelled()] * 2
