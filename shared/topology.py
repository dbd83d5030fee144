"""Every stream and durable consumer Peerline uses, provisioned in one place.

`peerline bootstrap` (and `peerline up`, docker-compose, the Kubernetes Job) runs `provision()`.
Services only bind to what exists here; they never create streams or consumers themselves, which is
what lets each service's NATS user be limited to its own subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError

from shared.contracts.base import Event, event_types
from shared.envelope import STREAM

DLQ_STREAM = "PEERLINE_DLQ"
DUPLICATE_WINDOW_S = 300.0


def events_stream(replicas: int = 1) -> StreamConfig:
    """The log: file storage, never deleted or purged, kept forever."""
    return StreamConfig(
        name=STREAM,
        subjects=["ev.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=0,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        allow_atomic=True,  # EventStore.append_many: several aggregates' appends in one durable write
        duplicate_window=DUPLICATE_WINDOW_S,
        num_replicas=replicas,
        discard=DiscardPolicy.OLD,
    )


def dlq_stream(replicas: int = 1) -> StreamConfig:
    """Dead letters: the original bytes and headers plus the reason, kept for a coordinator to inspect."""
    return StreamConfig(
        name=DLQ_STREAM,
        subjects=["dlq.>"],
        storage=StorageType.FILE,
        allow_msg_ttl=True,  # dead letters holding raw outside data (CAD documents) expire (Nats-TTL)
        duplicate_window=DUPLICATE_WINDOW_S,
        num_replicas=replicas,
    )


@dataclass(frozen=True)
class Consumer:
    """A durable pull consumer on the log."""

    durable: str
    filter_subjects: tuple[str, ...]
    ack_wait_s: float = 10.0  # how soon a crashed consumer's in-flight events come back
    max_ack_pending: int = 2000
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    # nats-server hands out a consumer with several filters slowly once the log holds many subjects
    # (~2.7k vs ~20k events/s measured here, nats-server issues #4888/#7014). A consumer that wants most
    # of the log therefore reads all of it and skips what it does not want in the client (`wants`).
    read_all: bool = False
    # A replay reads through an ordered consumer, where the server's filters cost less: of a 5M regional
    # log it delivered matching's 1.4M (11 filters) in 45 s against 122 s for all of it, but wellness's
    # 81 % (18 filters) took 2.2x as long as all of it. A read-all consumer that wants little of the log
    # sets this, so that replaying it alone lets the server filter (`shared.replay.subscription`).
    replay_filtered: bool = False
    events: tuple[type[Event], ...] = ()  # what it is for; empty for a hand-written filter (tests, bench)

    @classmethod
    def of(cls, durable: str, events: Iterable[type[Event]], **settings: Any) -> Consumer:
        """The consumer delivering exactly `events`, its filter subjects derived from them."""
        events = tuple(events)
        return cls(durable, subjects_for(events), events=events, **settings)

    @cached_property
    def _patterns(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(s.split(".")) for s in self.filter_subjects)

    @property
    def client_filter(self) -> Callable[[str], bool] | None:
        """The client-side filter a reader of this consumer applies (None: the server filters)."""
        return self.wants if self.read_all else None

    @cached_property
    def _by_aggregate(self) -> dict[str, frozenset[str] | None] | None:
        """aggregate → the event names wanted (None: all of them), when every filter subject has the shape
        `subjects_for` gives (`ev.*.<aggregate>.>` or `ev.*.<aggregate>.*.<name>`); else None."""
        found: dict[str, set[str] | None] = {}
        for p in self._patterns:
            if len(p) not in (4, 5) or p[:2] != ("ev", "*") or p[2] in ("*", ">"):
                return None
            if len(p) == 4 and p[3] == ">":
                found[p[2]] = None
            elif len(p) == 5 and p[3] == "*" and p[4] not in ("*", ">"):
                names = found.setdefault(p[2], set())
                if names is not None:
                    names.add(p[4])
            else:
                return None
        return {a: None if names is None else frozenset(names) for a, names in found.items()}

    def wants(self, subject: str) -> bool:
        """Whether `subject` matches one of the filter subjects (NATS wildcards `*` and `>`)."""
        tokens = subject.split(".")
        index = self._by_aggregate
        if index is not None:  # one lookup instead of matching every pattern
            if len(tokens) < 4 or tokens[0] != "ev" or tokens[2] not in index:
                return False
            names = index[tokens[2]]
            return names is None or (len(tokens) == 5 and tokens[4] in names)
        return any(_matches(p, tokens) for p in self._patterns)

    def config(self) -> ConsumerConfig:
        subjects = [] if self.read_all else list(self.filter_subjects)
        return ConsumerConfig(
            durable_name=self.durable,
            description=self.description or None,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            # The runner bounds deliveries itself and dead-letters; the server never drops silently.
            max_deliver=-1,
            max_ack_pending=self.max_ack_pending,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )


def subjects_for(events: Iterable[type[Event]]) -> tuple[str, ...]:
    """Filter subjects delivering exactly these events, in the order their aggregates first appear:
    `ev.*.<aggregate>.>` when every registered event of the aggregate is wanted, else one subject per
    event name. Adding an event to an aggregate therefore narrows a catch-all filter, never widens it."""
    wanted: dict[str, set[str]] = {}
    for cls in events:
        wanted.setdefault(cls.aggregate, set()).add(cls.name)
    registered: dict[str, set[str]] = {}
    for cls in event_types().values():
        registered.setdefault(cls.aggregate, set()).add(cls.name)
    subjects: list[str] = []
    for aggregate, names in wanted.items():
        if names == registered.get(aggregate):
            subjects.append(f"ev.*.{aggregate}.>")
        else:
            subjects.extend(f"ev.*.{aggregate}.*.{name}" for name in sorted(names))
    return tuple(subjects)


def _matches(pattern: tuple[str, ...], tokens: list[str]) -> bool:
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or part not in ("*", tokens[i]):
            return False
    return len(pattern) == len(tokens)


def all_consumers() -> tuple[Consumer, ...]:
    """Each service declares its durable consumers in `shared/consumers/<service>.py` as CONSUMERS."""
    import importlib
    import pkgutil

    import shared.consumers as package

    found: list[Consumer] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        found.extend(importlib.import_module(f"{package.__name__}.{info.name}").CONSUMERS)
    names = [c.durable for c in found]
    if len(names) != len(set(names)):
        raise ValueError(f"durable consumer names must be unique: {sorted(names)}")
    return tuple(found)


def consumer(durable: str) -> Consumer:
    for c in all_consumers():
        if c.durable == durable:
            return c
    raise KeyError(durable)


class StreamSettingsDiffer(RuntimeError):
    """A stream exists with other settings than this release's; the provisioner may not change them."""


async def ensure_stream(js: JetStreamContext, cfg: StreamConfig) -> None:
    """Create a stream, or confirm it has these settings. Never updates one: an update can seal or shrink
    the log, or widen a stream to capture other subjects, so the provisioner's identity is not allowed
    one; a deliberate change is made with the break-glass `log-admin` identity (docs/bus.md)."""
    try:
        await js.add_stream(cfg)  # answered OK when the log exists with exactly these settings
    except BadRequestError as exc:
        if exc.err_code != 10058:  # stream name already in use with a different configuration
            raise
        raise StreamSettingsDiffer(
            f"{cfg.name} exists with other settings than this release asks for; change them with the "
            "log-admin identity (docs/bus.md), the provisioner cannot"
        ) from exc


async def provision(js: JetStreamContext, replicas: int = 1, sites: tuple[str, ...] = ()) -> None:
    """Create the streams and every durable consumer. Safe to run again. `sites`: agencies whose site
    (a leaf node, docs/leaf-sites.md) the CAD inbox sources."""
    await ensure_stream(js, events_stream(replicas))
    await ensure_stream(js, dlq_stream(replicas))
    for c in all_consumers():
        await js.add_consumer(STREAM, c.config())
    from shared.consumers.intake import provision_streams as intake_streams  # the CAD inbox

    await intake_streams(js, replicas, sites)
