"""One event as a projection sees it: the delivered (or directly read) message, decoded once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg
from pydantic import ValidationError

from shared.contracts.base import Event, UnknownEventType
from shared.envelope import Envelope, read_event


@dataclass(slots=True)
class Item:
    """One event to apply: as delivered by the consumer (`msg`), or read straight from the stream."""

    seq: int
    subject: str
    data: bytes
    headers: dict[str, str] | None
    msg: Msg | None = None
    delivered: int = 1
    consumer_seq: int = 0  # the consumer's delivery counter (0: not delivered by the consumer)
    wanted: bool = True  # False: outside the projection's subjects (a consumer reading all), skipped
    env: Envelope | None = None
    event: Event | None = None
    problem: str | None = None


def describe(exc: Exception) -> str:
    """A reason without the offending values (they may hold personal data)."""
    if isinstance(exc, ValidationError):
        return "invalid: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
    if isinstance(exc, UnknownEventType):
        return f"unknown event type {exc.args[0]}"
    if type(exc).__module__ == "builtins" and isinstance(exc, ValueError | TypeError | LookupError):
        return f"{type(exc).__name__} in {_where(exc)}"  # their messages quote the values they met
    return f"{type(exc).__name__}: {exc}"[:500]


def _where(exc: BaseException) -> str:
    """Where an exception was raised (module and function of the innermost frame), for a reason that
    names the fault without quoting the data."""
    tb = exc.__traceback__
    if tb is None:
        return "an unknown place"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{Path(code.co_filename).stem}.{code.co_name}"


def parse(msg: Msg, wants: Callable[[str], bool] | None = None) -> Item:
    """An item for a delivered message; one that `wants` refuses is left undecoded and only skipped."""
    item = delivered(msg)
    if wants is not None and not wants(msg.subject):
        item.wanted = False
        return item
    return decode(item)


def delivered(msg: Msg, wanted: bool = True) -> Item:
    """An undecoded item for a delivered message."""
    seq, consumer_seq, count, _ = position(msg)
    return Item(seq, msg.subject, msg.data, msg.headers, msg, count or 1, consumer_seq, wanted)


def position(msg: Msg) -> tuple[int, int, int, int]:
    """(stream sequence, consumer sequence, deliveries, pending) of a JetStream delivery, read from its
    reply subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`) without the
    timestamp and dataclasses nats-py's `msg.metadata` builds; other forms go through `msg.metadata`."""
    tokens = msg.reply.split(".") if msg.reply else []
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5]), int(tokens[6]), int(tokens[4]), int(tokens[8])
    meta = msg.metadata
    return meta.sequence.stream, meta.sequence.consumer, meta.num_delivered, meta.num_pending


def parse_raw(raw: RawStreamMsg) -> Item:
    return decode(Item(raw.seq or 0, raw.subject or "", raw.data or b"", raw.headers))


def item_of(env: Envelope, seq: int) -> Item:
    """An item for an envelope that did not come through NATS (feeding a view directly, in tests)."""
    return decode(Item(seq, env.nats_subject, env.to_bytes(), None))


def decode(item: Item) -> Item:
    try:
        item.env, item.event = read_event(item.data, item.subject)
    except (ValidationError, UnknownEventType, ValueError) as exc:
        item.problem = describe(exc)
    return item
