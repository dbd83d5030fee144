"""Who may do what on the message bus: one permission model for every mode, derived from the code.

A service's NATS identity may publish exactly the event subjects its contracts module declares
(`shared/contracts/<service>.py`), read the log (stream info, direct get), take and acknowledge messages
from the durables its consumers module declares (`shared/consumers/<service>.py`), dead-letter them, and
subscribe to its own inbox prefix. Nobody but the provisioner creates streams or consumers, and nobody
deletes, purges, seals or shrinks the log. The few core-NATS subjects a service uses besides (the vault's
request/reply, live notices) are listed here by hand in EXTRA_PUBLISH, and the requests a service answers
in ANSWERS.

Pure: no I/O. `shared.buscreds` turns these identities into nats-server configuration and credentials.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field

import shared.consumers
from shared.consumers.intake import (
    CAD_DURABLE,
    CAD_INBOX,
    site_domain,
    site_request_subject,
    site_stream_name,
)
from shared.consumers.matching import REPLICA_DURABLES
from shared.contracts import event_types
from shared.contracts.intake import REVEAL_SUBJECT
from shared.contracts.matching import PEER_CARD_SUBJECT
from shared.envelope import STREAM
from shared.topology import DLQ_STREAM

REVEAL_QUEUE = "intake-vault"  # the vault's queue group: only intake may join it
PEER_CARD_QUEUE = "matching-cards"  # matching answers who accepted a case: only matching may join it
JS = "$JS.API"

# Core-NATS subjects a service publishes besides its events (live notices, the vault request).
EXTRA_PUBLISH: dict[str, tuple[str, ...]] = {
    "escalation": (REVEAL_SUBJECT, "notify.*.clinician", "notify.*.coordinator", "notify.*.command"),
    "intake": (PEER_CARD_SUBJECT,),
    "matching": ("notify.*.peer", "notify.*.coordinator"),
}
# Requests a service answers (subject, its queue group), one reply each: nobody else may listen in.
ANSWERS: dict[str, tuple[tuple[str, str], ...]] = {
    "intake": ((REVEAL_SUBJECT, REVEAL_QUEUE),),
    "matching": ((PEER_CARD_SUBJECT, PEER_CARD_QUEUE),),
}
# Durables a service reads outside the log (stream, durable).
EXTRA_DURABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "intake": ((CAD_INBOX, CAD_DURABLE),),
    "matching": tuple((STREAM, d) for d in REPLICA_DURABLES),
}


@dataclass(frozen=True)
class Identity:
    """One NATS user: what it may publish and subscribe to."""

    name: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny_publish: tuple[str, ...] = ()
    responses: int = 0  # may answer this many replies per request it receives (0: none)
    description: str = ""
    inbox: str = field(default="")
    leaf: bool = False  # True: connects only as a leaf node (a site's link); False: only as a client

    def __post_init__(self) -> None:
        if not self.inbox:
            object.__setattr__(self, "inbox", inbox_prefix(self.name))


def inbox_prefix(name: str) -> str:
    """The private inbox an identity's client uses (`inbox_prefix`); nobody else may subscribe to it."""
    return f"_INBOX.{name}"


def produced_events() -> dict[str, set[tuple[str, str]]]:
    """service → {(aggregate, event name)} from the contracts module each event type is declared in."""
    out: dict[str, set[tuple[str, str]]] = {}
    for cls in event_types().values():
        service = cls.__module__.rsplit(".", 1)[-1]
        out.setdefault(service, set()).add((cls.aggregate, cls.name))
    return out


def durables() -> dict[str, tuple[str, ...]]:
    """service → the durables on the log declared in `shared/consumers/<service>.py`."""
    out: dict[str, tuple[str, ...]] = {}
    for info in pkgutil.iter_modules(shared.consumers.__path__):
        module = importlib.import_module(f"{shared.consumers.__name__}.{info.name}")
        out[info.name] = tuple(c.durable for c in module.CONSUMERS)
    return out


def services() -> tuple[str, ...]:
    return tuple(sorted(set(produced_events()) | set(durables())))


def _durable_rights(stream: str, durable: str) -> tuple[str, ...]:
    return (
        f"{JS}.CONSUMER.INFO.{stream}.{durable}",
        f"{JS}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
        f"$JS.ACK.*.*.{stream}.{durable}.>",  # the v2 ack subject (domain and account hash first)
        f"dlq.{durable}",
    )


def _read_log(stream: str = STREAM) -> tuple[str, ...]:
    return (f"{JS}.STREAM.INFO.{stream}", f"{JS}.DIRECT.GET.{stream}", f"{JS}.DIRECT.GET.{stream}.>")


def service_identity(service: str) -> Identity:
    events = sorted(produced_events().get(service, ()))
    taken = [(STREAM, d) for d in durables().get(service, ())] + list(EXTRA_DURABLES.get(service, ()))
    publish: list[str] = [f"ev.*.{aggregate}.*.{name}" for aggregate, name in events]
    publish += _read_log()
    if any(stream != STREAM for stream, _ in taken):
        publish += [f"{JS}.STREAM.INFO.{s}" for s in sorted({s for s, _ in taken if s != STREAM})]
    for stream, durable in taken:
        publish += _durable_rights(stream, durable)
    publish += EXTRA_PUBLISH.get(service, ())
    subscribe = [f"{inbox_prefix(service)}.>"]
    subscribe += [f"{subject} {queue}" for subject, queue in ANSWERS.get(service, ())]  # queue-pinned
    return Identity(
        service,
        publish=_unique(publish),
        subscribe=tuple(subscribe),
        responses=1 if service in ANSWERS else 0,
        description=f"the {service} service",
    )


STREAMS = (STREAM, DLQ_STREAM, CAD_INBOX)  # every stream Peerline has; no one creates another
_NEVER = (
    f"{JS}.STREAM.DELETE.>",
    f"{JS}.STREAM.PURGE.>",
    f"{JS}.STREAM.MSG.DELETE.>",
    f"{JS}.STREAM.UPDATE.>",  # seal, shrink (max_msgs), new subjects: only the break-glass log admin
)


def provisioned_durables() -> tuple[tuple[str, str], ...]:
    """(stream, durable) of every durable anyone reads: the declared ones, the CAD inbox's, replicas'."""
    declared = [(STREAM, d) for ds in durables().values() for d in ds]
    extra = [pair for pairs in EXTRA_DURABLES.values() for pair in pairs]
    return tuple(dict.fromkeys(declared + extra))


def provisioner() -> Identity:
    """`peerline bootstrap`: creates Peerline's streams by name and its declared durables, nothing else.
    It cannot update a stream (so it cannot seal, shrink or widen one to capture other subjects), nor
    delete, purge or create any other stream or consumer."""
    creates: list[str] = []
    for stream, durable in provisioned_durables():
        base = f"{JS}.CONSUMER.CREATE.{stream}.{durable}"
        durable_api = f"{JS}.CONSUMER.DURABLE.CREATE.{stream}.{durable}"  # nats-py's form for durables
        creates += [base, f"{base}.>", durable_api, f"{JS}.CONSUMER.DELETE.{stream}.{durable}"]
    return Identity(
        "provisioner",
        publish=(
            f"{JS}.INFO",
            f"{JS}.STREAM.NAMES",
            f"{JS}.STREAM.INFO.*",
            *(f"{JS}.STREAM.CREATE.{s}" for s in STREAMS),
            *creates,
            f"{JS}.CONSUMER.INFO.*.*",
            f"{JS}.CONSUMER.NAMES.*",
        ),
        subscribe=(f"{inbox_prefix('provisioner')}.>",),
        deny_publish=_NEVER,
        description="creates Peerline's streams and declared durables (peerline bootstrap)",
    )


def log_admin() -> Identity:
    """Break-glass: may change the streams' settings (replicas, limits). Made on demand, revoked after."""
    return Identity(
        "log-admin",
        publish=(*(f"{JS}.STREAM.INFO.{s}" for s in STREAMS), *(f"{JS}.STREAM.UPDATE.{s}" for s in STREAMS)),
        subscribe=(f"{inbox_prefix('log-admin')}.>",),
        deny_publish=_NEVER[:3],
        description="changes the log's stream settings; never deletes or purges",
    )


def replayer() -> Identity:
    """Rebuilds and audit checks: reads the whole log through ephemeral ordered consumers; writes nothing."""
    return Identity(
        "replay",
        publish=(
            *_read_log(),
            f"{JS}.STREAM.MSG.GET.{STREAM}",
            f"{JS}.CONSUMER.CREATE.{STREAM}",
            f"{JS}.CONSUMER.CREATE.{STREAM}.*.>",  # the ephemeral ordered consumer (name + filter)
            "$JS.FC.>",  # flow-control replies of the ordered consumer
        ),
        subscribe=(f"{inbox_prefix('replay')}.>",),
        deny_publish=(f"{JS}.CONSUMER.DURABLE.>",),
        description="rebuilds projections and verifies the audit trail (read-only)",
    )


def cad(agency: str) -> Identity:
    """One CAD integration per agency: it can only report that agency's incidents."""
    name = f"cad-{agency}"
    return Identity(
        name,
        publish=(f"cad.{agency}.incident",),
        subscribe=(f"{inbox_prefix(name)}.>",),
        description=f"the dispatch (CAD) integration of {agency}",
    )


def notifications_reader() -> Identity:
    """Whatever delivers live notices to people: reads `notify.>`, publishes nothing."""
    return Identity(
        "notifications",
        publish=(),
        subscribe=("notify.>", f"{inbox_prefix('notifications')}.>"),
        description="reads live notices (notify.>) to deliver them",
    )


def site_link(agency: str) -> Identity:
    """The leaf connection of an agency's site (docs/leaf-sites.md), as the region sees it. What it may
    publish crosses into the region; what it may subscribe to crosses into the site. Only the region's
    source of the site's stream travels: the site answers the region's consumer requests on that one
    stream (`$JSC.R.` replies) and delivers its messages (`$JS.S.`); nothing published at the site —
    `cad.<agency>.incident` included — reaches the region any other way, so nothing arrives twice."""
    api, stream = f"$JS.{site_domain(agency)}.API", site_stream_name(agency)
    return Identity(
        f"site-link-{agency}",
        publish=("$JSC.R.>", "$JS.S.>"),
        subscribe=(
            f"{api}.CONSUMER.CREATE.{stream}",
            f"{api}.CONSUMER.CREATE.{stream}.>",
            f"{api}.CONSUMER.DELETE.{stream}.*",
            f"{api}.STREAM.INFO.{stream}",
            f"$JS.FC.{stream}.>",
        ),
        description=f"the leaf link of {agency}'s site (its stream, sourced by the region)",
        leaf=True,
    )


def site(agency: str, *, with_harness: bool = False) -> tuple[Identity, ...]:
    """Who may connect to an agency site's own server: its CAD, the door that takes support requests at
    the site (intake or the console there), and the site's provisioner (creates the site stream only)."""
    stream, door = site_stream_name(agency), f"site-door-{agency}"
    found = [
        cad(agency),
        Identity(
            door,
            publish=(site_request_subject(agency),),
            subscribe=(f"{inbox_prefix(door)}.>",),
            description=f"takes support requests at {agency}'s site while the region may be out of reach",
        ),
        Identity(
            "site-provisioner",
            publish=(f"{JS}.INFO", f"{JS}.STREAM.INFO.{stream}", f"{JS}.STREAM.CREATE.{stream}"),
            subscribe=(f"{inbox_prefix('site-provisioner')}.>",),
            deny_publish=_NEVER,
            description=f"creates {stream}, the site's stream",
        ),
    ]
    return tuple(found + ([harness()] if with_harness else []))


def harness() -> Identity:
    """Tests and benchmarks only (never in a shipped configuration): their own set-up and checks."""
    return Identity("harness", publish=(">",), subscribe=(">",), description="tests and benchmarks only")


def region(
    agencies: Iterable[str], *, with_harness: bool = False, sites: Iterable[str] = ()
) -> tuple[Identity, ...]:
    """Every identity of a region: the services, the provisioner, replay, notifications, one CAD each,
    and the leaf link of each agency site."""
    found = [service_identity(s) for s in services()]
    found += [provisioner(), replayer(), notifications_reader()]
    found += [cad(a) for a in sorted(set(agencies))]
    found += [site_link(a) for a in sorted(set(sites))]
    if with_harness:
        found.append(harness())
    return tuple(found)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
