"""shared.reactor through a real nats-server, bound to a provisioned durable as a service's own identity:
acked once, dead-lettered with the reason (at once when undecodable, after bounded retries when the
handler keeps failing), never stalling the others; and the AsyncAPI document generated from the code."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faststream import Depends
from faststream.nats import NatsRouter
from faststream.specification import AsyncAPI
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, NotFoundError

from services.escalation import reactions as escalation_reactions
from services.escalation.reactions import routes as escalation_routes
from services.escalation.settings import EscalationSettings
from services.intake import reactions as cad_inbox
from services.matching import reactions as matching_reactor
from shared.busclient import parse_header_lines
from shared.contracts.notify import PageMissed
from shared.envelope import STREAM, Envelope
from shared.natsserver import NatsServer
from shared.reactor import Delivered, Policy, Reactions, provided, reaction
from shared.topology import DLQ_STREAM, consumer, provision
from tests.support.bus import connect, seed
from tests.test_projection_subscriptions import named_events, names

pytestmark = pytest.mark.integration
DURABLE = "escalation-missedpages"  # a durable escalation's identity may bind: ev.*.notice.*.page_missed


def missed(escalation_id: str) -> PageMissed:
    return PageMissed(escalation_id=escalation_id, tier=1, role="clinician", reason="nobody_on_call")


@dataclass
class Bench:
    js: JetStreamContext
    seen: Counter[str]
    failing: set[str]
    reactions: Reactions
    unavailable: dict[str, int] = field(default_factory=dict)  # how many more deliveries meet no log

    async def publish(self, escalation_id: str) -> Envelope:
        env = Envelope.wrap(missed(escalation_id), agency="a", subject="n1", source="t")
        await self.js.publish(env.nats_subject, env.to_bytes(), stream=STREAM)
        return env

    async def settled(self) -> None:
        """Every published event taken: handled and acked, or dead-lettered and acked."""
        while True:
            info = await self.js.consumer_info(STREAM, DURABLE)
            if not info.num_pending and not info.num_ack_pending:
                return
            await asyncio.sleep(0.02)

    async def dead(self) -> list[tuple[bytes, dict[str, str]]]:
        out, seq = [], 1
        while True:
            try:
                msg = await self.js.get_msg(DLQ_STREAM, seq=seq, subject=f"dlq.{DURABLE}", next=True)
            except NotFoundError:
                return out
            out.append((msg.data or b"", dict(msg.headers or {})))
            seq = (msg.seq or 0) + 1


async def record(delivered: Delivered, bench: Bench = Depends(provided("bench"))) -> None:
    assert isinstance(delivered.event, PageMissed)
    bench.seen[delivered.event.escalation_id] += 1
    if delivered.event.escalation_id in bench.failing:
        raise RuntimeError("the handler failed")
    if bench.unavailable.get(delivered.event.escalation_id, 0) > 0:  # the log failing over meanwhile
        bench.unavailable[delivered.event.escalation_id] -= 1
        raise NoStreamResponseError


@pytest.fixture
async def bench(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Bench]:
    nc: Client = await connect(nats_server.url)
    await provision(nc.jetstream())
    settings = EscalationSettings(
        nats_url=nats_server.url, nats_seed_file=seed(nats_server.url, "escalation"), var_dir=tmp_path
    )
    router = NatsRouter()
    reaction(router, consumer(DURABLE), workers=2)(record)
    reactions = Reactions(settings, router, policy=Policy(max_deliveries=3, backoff_s=0.01))
    b = Bench(nc.jetstream(), Counter(), set(), reactions)
    reactions.provide(bench=b)
    stop = asyncio.Event()
    running = asyncio.create_task(reactions.run(stop))
    yield b
    stop.set()
    await running
    await nc.close()


async def test_a_good_event_is_handled_and_acked_once(bench: Bench) -> None:
    await bench.publish("x-1")
    await bench.settled()
    info = await bench.js.consumer_info(STREAM, DURABLE)
    assert bench.seen == Counter({"x-1": 1})
    assert bench.reactions.broker.connection._parse_header_lines is parse_header_lines  # Peerline's parser
    assert info.ack_floor.stream_seq == info.delivered.stream_seq  # acked, not left to redeliver
    assert info.num_redelivered == 0 and await bench.dead() == []


async def test_a_malformed_event_is_dead_lettered_with_its_reason_and_the_next_flows(bench: Bench) -> None:
    await bench.js.publish("ev.a.notice.n1.page_missed", b'{"type": "peerline.page_missed.v1"', stream=STREAM)
    bad = Envelope.wrap(missed("x-2"), agency="a", subject="n1", source="t")
    await bench.js.publish("ev.a.notice.n9.page_missed", bad.to_bytes(), stream=STREAM)  # wrong subject
    await bench.publish("x-3")
    await bench.settled()
    assert bench.seen == Counter({"x-3": 1})
    (raw, first), (_, second) = await bench.dead()
    assert raw == b'{"type": "peerline.page_missed.v1"'  # the original bytes, for someone to inspect
    assert first["Peerline-Reason"].startswith("invalid:")
    assert second["Peerline-Reason"].startswith("SubjectDisagrees")
    assert first["Peerline-Consumer"] == DURABLE and first["Peerline-Original-Seq"] == "1"


async def test_a_failing_handler_is_retried_with_backoff_then_dead_lettered_never_stalling_others(
    bench: Bench,
) -> None:
    bench.failing.add("x-bad")
    await bench.publish("x-bad")
    for n in range(5):
        await bench.publish(f"x-{n}")
    await bench.settled()
    assert bench.seen == Counter({"x-bad": 3, **{f"x-{n}": 1 for n in range(5)}})
    [(_, headers)] = await bench.dead()
    assert headers["Peerline-Reason"] == "failed 3 times: RuntimeError: the handler failed"
    info = await bench.js.consumer_info(STREAM, DURABLE)
    assert info.num_redelivered == 0 and info.ack_floor.stream_seq == 6


async def test_an_unavailable_log_is_waited_out_never_dead_lettered(bench: Bench) -> None:
    bench.unavailable["x-wait"] = 5  # more failed deliveries than max_deliveries (3) allows a handler
    await bench.publish("x-wait")
    await bench.settled()
    assert bench.seen == Counter({"x-wait": 6}) and bench.unavailable["x-wait"] == 0
    assert await bench.dead() == []


@pytest.mark.unit
def test_the_asyncapi_document_lists_each_reaction_and_what_it_publishes(tmp_path: Path) -> None:
    settings = EscalationSettings(var_dir=tmp_path)
    router, _ = escalation_routes()
    documented = (escalation_reactions.documentation(), cad_inbox.routes(), matching_reactor.routes())
    reactions = Reactions(settings, router, *documented)
    doc = AsyncAPI(reactions.broker, title="Peerline reactions").to_specification().to_jsonable()
    operations = {name: op["action"] for name, op in doc["operations"].items()}
    assert {k: v for k, v in operations.items() if v == "receive"}.keys() == {
        "escalation-riskflags",  # a batch reaction too: read without faststream, for speed
        "escalation-missedpages",
        "escalation-notifier",
        "intake-cad-inbox",
        "matching-assigner",  # a batch reaction (shared.batches), documented though faststream never reads it
    }
    assigner = doc["channels"]["matching-assigner"]
    assert assigner["address"] == "ev.*.case.*.support_requested"
    assert "fetched in batches" in assigner["description"]
    assert "delivers peerline.support_requested.v1" in assigner["description"]
    [ref] = [m["$ref"].rsplit("/", 1)[1] for m in assigner["messages"].values()]
    message = doc["components"]["messages"][ref]
    assert message["payload"]["$ref"] == "#/components/schemas/Delivered"
    assert [v for v in operations.values() if v == "send"] == ["send"]
    assert doc["channels"]["notify.{agency}.{role}"]["address"] == "notify.{agency}.{role}"
    assert doc["channels"]["escalation-riskflags"]["address"] == "ev.*.case.*.contact_logged"
    assert {"Delivered", "CadDocument", "TierNotification"} <= doc["components"]["schemas"].keys()


@pytest.mark.unit
def test_each_reaction_acts_on_exactly_what_its_durable_delivers() -> None:
    """A reaction's events are its durable's (shared/consumers): its handler names each of them, and no
    other (an event it names but its durable filters out would never arrive)."""
    router, _ = escalation_routes()
    handlers = [
        (consumer(s.extra_options["durable"]), s.calls[0].handler._original_call) for s in router.subscribers
    ]
    handlers.append((escalation_reactions.RISK_FLAGS, escalation_reactions.RiskFlags.raise_concern))
    assert {d.durable for d, _ in handlers} == {
        "escalation-riskflags",
        "escalation-missedpages",
        "escalation-notifier",
    }
    for durable, handler in handlers:
        named, delivered = named_events(handler), set(durable.events)
        assert named == delivered, (
            f"{handler.__name__} on {durable.durable}: delivered, not acted on: {names(delivered - named)}; "
            f"named, never delivered: {names(named - delivered)}"
        )
