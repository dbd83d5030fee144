"""Each projection acts on exactly the events its consumer delivers.

The one list is the durable's in `shared/consumers/<service>.py` (its filter subjects are derived from it
and the contract registry); a projection takes it as `handles = consumer("<durable>").events`. These tests
catch what the one list cannot: `apply` with no arm for a delivered event (a sample of every delivered
class is applied to an empty view and none may be reported unhandled), and `apply` with an arm for an
event its consumer filters out. They also show what the runner does when a hand-written filter and a
projection disagree, and that the provisioner moves a deployed durable to a changed filter.
"""

from __future__ import annotations

import ast
import inspect
import logging
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from hypothesis import Phase, find, settings
from hypothesis.strategies import from_regex
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from pydantic import BaseModel

from services.escalation.main import projections as escalation
from services.intake.main import projections as intake
from services.matching.main import projections as matching
from services.notify.main import projections as notify
from services.notify.projection import Inbox
from services.tracking.main import projections as tracking
from services.wellness.main import projections as wellness
from shared.clock import FakeClock
from shared.contracts.base import Event, event_types
from shared.contracts.intake import RequestCancelled, SupportRequested
from shared.db import make_engine
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.items import Item
from shared.natsserver import NatsServer
from shared.projection import UNHANDLED, Projection, apply_batch, ensure_schema, position
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
INBOX = Inbox(FakeClock(), ("email",), timedelta(days=3650))  # notify keeps it out of its replays
PAIRS.append(("notify:notify-inbox", INBOX, consumer("notify-inbox")))  # type: ignore[arg-type]
IDS = [p[0] for p in PAIRS]
TIME = "2026-07-04T21:40:00+00:00"


def names(events: set[type[Event]]) -> list[str]:
    return sorted(e.type_name() for e in events)


def sample_subject(cls: type[Event]) -> str:
    return f"ev.fire.{cls.aggregate}.x-1.{cls.name}"


@pytest.mark.parametrize(("label", "projection", "durable"), PAIRS, ids=IDS)
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


@pytest.mark.parametrize(("label", "projection", "durable"), PAIRS, ids=IDS)
def test_the_filter_lets_through_exactly_the_handled_events(
    label: str, projection: Projection, durable: Consumer
) -> None:
    wanted = {cls for cls in event_types().values() if durable.wants(sample_subject(cls))}
    assert {(c.aggregate, c.name) for c in wanted} == {(c.aggregate, c.name) for c in projection.handles}


def value_of(name: str, annotation: Any) -> Any:
    """A plausible value for a field: a time where the name says so, else the type's simplest value."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:  # e.g. AgencyId inside a tuple: the pattern rides on the field info
        found = pattern_of(m for info in args[1:] for m in getattr(info, "metadata", ()))
        return _matching(found) if found else value_of(name, args[0])
    if origin is Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return value_of(name, next(a for a in args if a is not type(None)))
    if origin is tuple:  # tuple[X, ...] or a fixed tuple[X, Y]
        return [value_of(name, a) for a in (args[:1] if args[-1] is Ellipsis else args)]
    if origin is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return fields_of(annotation)
    if annotation is str:
        return TIME if name.endswith(("_at", "_by", "until")) else f"{name}-1"
    return {bool: True, int: 1, float: 1.0}.get(annotation, TIME)


def fields_of(model: type[BaseModel]) -> dict[str, Any]:
    out = {}
    for name, f in model.model_fields.items():
        pattern = pattern_of(f.metadata)
        out[name] = _matching(pattern) if pattern else value_of(name, f.annotation)
    return out


def pattern_of(metadata: Iterable[Any]) -> str | None:
    return next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)


def _matching(pattern: str) -> str:
    """A string matching `pattern`, the same on every run."""
    once = settings(database=None, derandomize=True, phases=[Phase.generate])
    return find(from_regex(pattern, fullmatch=True), lambda _: True, settings=once)


def sample(cls: type[Event]) -> Event:
    """One instance of an event class, every field filled."""
    return cls.model_validate(fields_of(cls))


@pytest.mark.unit
@pytest.mark.parametrize(("label", "projection", "durable"), PAIRS, ids=IDS)
def test_apply_acts_on_every_event_its_consumer_delivers(
    label: str, projection: Projection, durable: Consumer, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/view.db")
    ensure_schema(engine, projection)
    before = _count(projection.name)
    for seq, cls in enumerate(durable.events, start=1):
        event = sample(cls)
        env = Envelope.wrap(event, agency="fire", subject=f"{cls.aggregate}-1", source="t")
        item = Item(seq, sample_subject(cls), b"", None, env=env, event=event)
        apply_batch(engine, projection, [item])
        assert _count(projection.name) == before, f"{label}: apply has no arm for {cls.type_name()}"


def named_events(obj: Any) -> set[type[Event]]:
    """The event classes a function, class or module names in `case` patterns and `isinstance` checks."""
    scope = vars(inspect.getmodule(obj))
    found: set[type[Event]] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(obj)))):
        if isinstance(node, ast.MatchClass):
            named = [node.cls]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "isinstance"
            and len(node.args) == 2
        ):
            named = _alternatives(node.args[1])
        else:
            continue
        for name in named:
            cls = scope.get(name.id) if isinstance(name, ast.Name) else None
            if isinstance(cls, type) and issubclass(cls, Event):
                found.add(cls)
    return found


def _alternatives(node: ast.expr) -> list[ast.expr]:
    """`A`, `(A, B)` or `A | B` → its parts."""
    if isinstance(node, ast.Tuple):
        return [p for e in node.elts for p in _alternatives(e)]
    if isinstance(node, ast.BinOp):
        return _alternatives(node.left) + _alternatives(node.right)
    return [node]


def arms(cls: type) -> set[type[Event]]:
    """What the module defining `cls` names, and the modules of the same service it imports (a projection
    may hand events to a part of it, like matching's peer rules)."""
    module = sys.modules[cls.__module__]
    service = cls.__module__.rsplit(".", 1)[0]
    imported = [
        m for m in vars(module).values() if isinstance(m, types.ModuleType) and m.__name__.startswith(service)
    ]
    return set().union(*(named_events(m) for m in [module, *imported]))


@pytest.mark.unit
@pytest.mark.parametrize(("label", "projection", "durable"), PAIRS, ids=IDS)
def test_apply_has_no_arm_for_an_event_its_consumer_filters_out(
    label: str, projection: Projection, durable: Consumer
) -> None:
    parts = [type(projection)] + [type(v) for v in vars(projection).values() if hasattr(v, "apply")]
    filtered_out = names(set().union(*(arms(part) for part in parts)) - set(durable.events))
    assert not filtered_out, f"{label} has arms for events its consumer never delivers: {filtered_out}"


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
