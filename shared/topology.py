"""Every stream and durable consumer Peerline uses, provisioned in one place.

`peerline bootstrap` (and `peerline up`, docker-compose, the Kubernetes Job) runs `provision()`.
Services only bind to what exists here; they never create streams or consumers themselves, which is
what lets each service's NATS user be limited to its own subjects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

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

    @cached_property
    def _patterns(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(s.split(".")) for s in self.filter_subjects)

    @property
    def client_filter(self) -> Callable[[str], bool] | None:
        """The client-side filter a reader of this consumer applies (None: the server filters)."""
        return self.wants if self.read_all else None

    def wants(self, subject: str) -> bool:
        """Whether `subject` matches one of the filter subjects (NATS wildcards `*` and `>`)."""
        tokens = subject.split(".")
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
