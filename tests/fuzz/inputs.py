"""What is published on the bus while fuzzing: every registered event type as its producing service, and
CAD documents (EIDO and the webhook format) as `cad-<agency>` on `cad.<agency>.incident`; valid ones, and
ones with bad fields, types, envelopes, bytes, headers or subjects."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from shared.contracts import Event, event_types
from shared.envelope import Envelope
from tests.fuzz.payloads import damaged, fields_of, spoiled
from tests.support.bus import AGENCIES

FIXTURES = Path(__file__).parents[1] / "intake" / "fixtures"
CAD_DOCUMENTS = tuple(
    json.loads(p.read_text()) for p in sorted([*FIXTURES.glob("*.json"), *FIXTURES.glob("eido/*.json")])
)
TYPES: tuple[type[Event], ...] = tuple(event_types()[t] for t in sorted(event_types()))
IDS = ("c-1", "c-2", "p-1", "p-2", "m-1", "i-1")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass(frozen=True)
class Input:
    kind: str  # what was done to it, e.g. "event:data_spoiled+none"
    user: str  # the bus identity that publishes it
    subject: str
    data: bytes
    headers: dict[str, str] | None


def producer(cls: type[Event]) -> str:
    return cls.__module__.rsplit(".", 1)[-1]


@st.composite
def headers(draw: st.DrawFn, msg_id: str) -> tuple[str, dict[str, str] | None]:
    how = draw(st.sampled_from(["ok", "ok", "ok", "no_msg_id", "reused_msg_id", "bad_trace", "none"]))
    if how == "none":
        return how, None
    out = {"Nats-Msg-Id": msg_id, "traceparent": TRACEPARENT}
    if how == "no_msg_id":
        del out["Nats-Msg-Id"]
    elif how == "reused_msg_id":
        out["Nats-Msg-Id"] = draw(st.sampled_from(["dup-1", "dup-2"]))
    elif how == "bad_trace":
        out["traceparent"] = draw(st.sampled_from(["", "00-zz-yy-01", "ff-" + "0" * 400, "00--01"]))
    return how, out


@st.composite
def envelope(draw: st.DrawFn, cls: type[Event]) -> tuple[str, dict[str, Any]]:
    """(how, envelope as JSON): a valid event of `cls`, or one with its data, type or envelope spoiled."""
    data = draw(fields_of(cls))
    try:
        data, valid = cls.model_validate(data).model_dump(mode="json"), True
    except ValueError:
        valid = False
    how = draw(st.sampled_from(["as_drawn", "as_drawn", "as_drawn", "data", "type", "envelope"]))
    if how == "data":
        data = draw(spoiled(data))
    env = Envelope(
        source=producer(cls),
        type=cls.type_name(),
        subject=draw(st.sampled_from(IDS)),
        time=datetime(2026, 7, 4, 21, 40, tzinfo=UTC),
        agency=draw(st.sampled_from(AGENCIES)),
        data={},
    ).model_dump(mode="json")
    env["data"] = data
    if how == "type":
        env["type"] = draw(
            st.sampled_from([f"peerline.{cls.name}.v{cls.version + 7}", "peerline.nothing.v1", "", None, 3])
        )
    elif how == "envelope":
        env = draw(spoiled(env))
    return ("valid" if how == "as_drawn" and valid else f"{how}_spoiled"), env


@st.composite
def event_input(draw: st.DrawFn) -> Input:
    cls = draw(st.sampled_from(TYPES))
    how, env = draw(envelope(cls))
    mine = sorted({(c.aggregate, c.name) for c in TYPES if producer(c) == producer(cls)})
    aggregate, name = cls.aggregate, cls.name
    agency = env.get("agency") if isinstance(env.get("agency"), str) else "riverton-fire"
    aggregate_id = env.get("subject") if isinstance(env.get("subject"), str) else "c-1"
    subject_how = draw(st.sampled_from(["same"] * 6 + ["agency", "aggregate_id", "event"]))
    if subject_how == "agency":
        agency = draw(st.sampled_from([a for a in (*AGENCIES, "Riverton-FIRE") if a != agency]))
    elif subject_how == "aggregate_id":
        aggregate_id = draw(st.sampled_from([i for i in (*IDS, "x-9") if i != aggregate_id]))
    elif subject_how == "event":
        aggregate, name = draw(st.sampled_from(mine))
    if not all(t and t.isascii() and not set(t) & set(" .*>\t\r\n") for t in (agency, aggregate_id)):
        agency, aggregate_id = "riverton-fire", "c-1"  # a subject NATS would refuse outright
    damage, data = draw(damaged(env))
    header_how, hdrs = draw(headers(str(env.get("id") or uuid.uuid4().hex)))
    kind = f"event:{how}+subject_{subject_how}+{damage}+headers_{header_how}"
    return Input(kind, producer(cls), f"ev.{agency}.{aggregate}.{aggregate_id}.{name}", data, hdrs)


@st.composite
def cad_input(draw: st.DrawFn) -> Input:
    doc: dict[str, Any] = draw(st.sampled_from(CAD_DOCUMENTS))
    incident = f"FZ-{draw(st.integers(0, 40))}"
    doc = {**doc, "incident_id" if "format" in doc else "incidentTrackingIdentifier": incident}
    how = draw(st.sampled_from(["whole", "whole", "spoiled"]))
    if how == "spoiled":
        doc = draw(spoiled(doc))
    damage, data = draw(damaged(doc))
    agency = draw(st.sampled_from(AGENCIES))
    header_how, hdrs = draw(headers(uuid.uuid4().hex))
    kind = f"cad:{'webhook' if 'format' in doc else 'eido'}_{how}+{damage}+headers_{header_how}"
    return Input(kind, f"cad-{agency}", f"cad.{agency}.incident", data, hdrs)


def inputs() -> st.SearchStrategy[Input]:
    return st.one_of(event_input(), event_input(), event_input(), cad_input())
