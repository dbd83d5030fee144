"""Each projection's consumer delivers exactly the events the projection handles.

A projection declares its event classes (`handles`); its durable in `shared/consumers/<service>.py`
declares the same classes and derives its filter subjects from them and the contract registry. These
tests bind the two, show what the runner does when they disagree, and that the provisioner moves a
deployed durable to a changed filter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from services.escalation.main import projections as escalation
from services.intake.main import projections as intake
from services.matching.main import projections as matching
from services.notify.main import projections as notify
from services.tracking.main import projections as tracking
from services.wellness.main import projections as wellness
from shared.contracts.base import Event, event_types
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from shared.projection import UNHANDLED, Projection, position
from shared.runner import ProjectionRunner
from shared.topology import Consumer, _matches, all_consumers, consumer, provision
from tests.support.bus import connect
from tests.test_projection import Counting, agency, drain

SERVICES: dict[str, Callable[[], list[tuple[Projection, Consumer]]]] = {
    "escalation": escalation,
    "intake": intake,
    "matching": matching,
    "notify": notify,  # type: ignore[dict-item]
    "tracking": tracking,
    "wellness": wellness,
}
PAIRS = [(f"{s}:{c.durable}", p, c) for s, listed in SERVICES.items() for p, c in listed()]


def names(events: set[type[Event]]) -> list[str]:
    return sorted(e.type_name() for e in events)


def sample_subject(cls: type[Event]) -> str:
    return f"ev.fire.{cls.aggregate}.x-1.{cls.name}"


@pytest.mark.parametrize(("label", "projection", "durable"), PAIRS, ids=[p[0] for p in PAIRS])
def test_a_projection_and_its_consumer_name_the_same_events(
    label: str, projection: Projection, durable: Consumer
) -> None:
    handled, delivered = set(projection.handles), set(durable.events)
    assert not handled - delivered, (
        f"{label} handles events its consumer never delivers: {names(handled - delivered)}"
    )
    assert not delivered - handled, (
        f"{label} is delivered events nobody handles: {names(delivered - handled)}"
    )


@pytest.mark.parametrize(("label", "projection", "durable"), PAIRS, ids=[p[0] for p in PAIRS])
def test_the_filter_lets_through_exactly_the_handled_events(
    label: str, projection: Projection, durable: Consumer
) -> None:
    wanted = {cls for cls in event_types().values() if durable.wants(sample_subject(cls))}
    assert {(c.aggregate, c.name) for c in wanted} == {(c.aggregate, c.name) for c in projection.handles}


def test_the_quick_client_filter_agrees_with_nats_wildcards() -> None:
    odd = ["ev.fire.case", "ev.fire.case.c-1", "ev.fire.case.c-1.x.y", "ev.fire.nope.x-1.y", "dlq.case.c-1.x"]
    subjects = [sample_subject(cls) for cls in event_types().values()] + odd
    for c in all_consumers():
        for subject in subjects:
            by_pattern = any(_matches(tuple(f.split(".")), subject.split(".")) for f in c.filter_subjects)
            assert c.wants(subject) == by_pattern, (c.durable, subject)


def test_every_projection_durable_is_one_buspolicy_reads() -> None:
    declared = {c.durable: c for c in all_consumers()}
    for label, _, durable in PAIRS:
        if durable.durable in declared:
            assert declared[durable.durable] == durable, label
        else:
            assert durable.durable.startswith("matching-directory-"), f"{label} is not in shared/consumers"


def test_every_declared_durable_derives_its_filter_from_event_classes() -> None:
    for c in all_consumers():
        assert c.events, f"{c.durable} lists subjects by hand"


def test_a_filter_names_each_event_or_a_whole_aggregate() -> None:
    c = Consumer.of("x", (SupportRequested, RequestCancelled))
    assert c.filter_subjects == ("ev.*.case.*.request_cancelled", "ev.*.case.*.support_requested")
    assert consumer("intake-cases").filter_subjects == ("ev.*.case.>",)


def test_the_runner_refuses_a_consumer_that_filters_out_a_handled_event(js: JetStreamContext) -> None:
    projection = Counting("x")
    projection.handles = (SupportRequested, RequestCancelled)
    with pytest.raises(ValueError, match="request_cancelled"):
        ProjectionRunner(js, None, projection, Consumer.of("x", (SupportRequested,)))  # type: ignore[arg-type]


async def test_a_delivered_event_nobody_handles_is_counted_and_logged(
    js: JetStreamContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.db import make_engine

    ag = agency()
    c = Consumer(f"test-unhandled-{ag}", (f"ev.{ag}.case.>",))
    await js.add_consumer(STREAM, c.config())
    store = EventStore(js)
    case = new_id("c")
    opened = SupportRequested(activation="self", member_ref=new_id("m"), token_hash="0" * 64)
    await store.append([Envelope.wrap(opened, agency=ag, subject=case, source="t")], 0)
    last = await store.append([Envelope.wrap(RequestCancelled(), agency=ag, subject=case, source="t")], None)
    engine = make_engine(f"sqlite:///{tmp_path}/view.db")
    projection = Counting(c.durable)
    before = _count(c.durable)
    runner = ProjectionRunner(js, engine, projection, c)
    await runner.start()
    with caplog.at_level(logging.ERROR, logger="peerline.projection"):
        await drain(runner)
    assert projection.total(engine) == 1
    assert _count(c.durable) == before + 1
    assert "request_cancelled" in caplog.text
    with engine.connect() as conn:
        assert position(conn, c.durable) == last  # skipped, not stuck


def _count(name: str) -> float:
    return UNHANDLED.labels(name)._value.get()


async def test_provisioning_moves_a_deployed_durable_to_its_derived_filter(nats_server: NatsServer) -> None:
    provisioner = await connect(nats_server.url, "provisioner")
    try:
        js = provisioner.jetstream()
        await provision(js)
        view = consumer("escalation-view")
        older: dict[str, Any] = {"filter_subject": "ev.*.escalation.>", "filter_subjects": None}
        await js.add_consumer(STREAM, _with(view.config(), **older))  # as an earlier release left it
        assert (await js.consumer_info(STREAM, view.durable)).config.filter_subject == "ev.*.escalation.>"
        await provision(js)
        config = (await js.consumer_info(STREAM, view.durable)).config
        assert sorted(config.filter_subjects or [config.filter_subject]) == sorted(view.filter_subjects)
    finally:
        await provisioner.close()


def _with(config: ConsumerConfig, **changes: Any) -> ConsumerConfig:
    return ConsumerConfig.from_response({**config.as_dict(), **changes})
