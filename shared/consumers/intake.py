"""Intake's durable consumers on the log, and the CAD inbox it reads raw dispatch documents from.

`PEERLINE_CAD_INBOX` holds raw CAD documents (they name members of the public), so it is a work
queue (a document leaves once intake has taken it) with a short max age, never part of the log.
`provision_streams` is called by `shared.topology.provision`.

An agency site (a leaf node with its own JetStream domain `site-<agency>`, docs/leaf-sites.md) keeps its
inbound messages in a stream of its own, `PEERLINE_SITE_<AGENCY>`: the CAD's `cad.<agency>.incident` and
support requests made at the site (`site.<agency>.request`). The region's CAD inbox sources each site's
stream across the leaf link, so what a cut-off site accepted reaches intake once the link returns.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)

from shared.contracts.base import events_of
from shared.topology import DUPLICATE_WINDOW_S, Consumer

CONSUMERS = (
    Consumer.of(
        "intake-cases", events_of("case"), description="intake's case projection (status for requesters)"
    ),
)

CAD_INBOX = "PEERLINE_CAD_INBOX"
CAD_SUBJECTS = "cad.*.incident"  # cad.<agency>.incident
CAD_DURABLE = "intake-cad-inbox"
CAD_MAX_AGE_S = 12 * 3600.0  # long enough to outlast an intake outage, short enough for raw PII
SITE_MAX_AGE_S = 7 * 24 * 3600.0  # a site holds what it accepted through a cut link of up to a week
SITE_DUPLICATE_WINDOW_S = (
    24 * 3600.0
)  # the same message posted twice at a site (same Nats-Msg-Id) is kept once


def site_domain(agency: str) -> str:
    return f"site-{agency}"


def site_stream_name(agency: str) -> str:
    """Unique across the region: a hub and its sites share one subject space (TRAPS: unique names)."""
    return f"PEERLINE_SITE_{agency.upper()}"


def site_request_subject(agency: str) -> str:
    """A support request accepted at a site (services/intake/commands/site_requests.py reads it)."""
    return f"site.{agency}.request"


def site_subjects(agency: str) -> list[str]:
    return [CAD_SUBJECTS.replace("*", agency), site_request_subject(agency)]


def site_stream(agency: str) -> StreamConfig:
    """A site's inbound messages, kept (limits retention: the region's source reads, never removes) until
    they are a week old."""
    return StreamConfig(
        name=site_stream_name(agency),
        subjects=site_subjects(agency),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=SITE_MAX_AGE_S,
        max_msg_size=1024 * 1024,
        duplicate_window=SITE_DUPLICATE_WINDOW_S,
        discard=DiscardPolicy.NEW,
        max_bytes=1024 * 1024 * 1024,
    )


def site_source(agency: str) -> StreamSource:
    """The region's CAD inbox reads a site's stream across the leaf link, through the site's domain API."""
    return StreamSource(
        name=site_stream_name(agency), external=ExternalStream(api=f"$JS.{site_domain(agency)}.API")
    )


def cad_inbox_stream(replicas: int = 1, sites: tuple[str, ...] = ()) -> StreamConfig:
    return StreamConfig(
        name=CAD_INBOX,
        subjects=[CAD_SUBJECTS],
        sources=[site_source(a) for a in sorted(sites)] or None,
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        max_age=CAD_MAX_AGE_S,
        max_msg_size=1024 * 1024,
        duplicate_window=DUPLICATE_WINDOW_S,
        discard=DiscardPolicy.NEW,  # when full, a CAD publish fails loudly instead of dropping old ones
        max_bytes=1024 * 1024 * 1024,
        num_replicas=replicas,
    )


def cad_inbox_consumer() -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=CAD_DURABLE,
        description="intake's CAD adapter: raw EIDO / webhook documents",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30.0,
        max_deliver=-1,  # intake bounds deliveries itself and dead-letters with the reason
        max_ack_pending=256,
    )


async def provision_streams(js: JetStreamContext, replicas: int = 1, sites: tuple[str, ...] = ()) -> None:
    """Create the CAD inbox (sourcing these agencies' sites) and its consumer (idempotent)."""
    from shared.topology import ensure_stream

    await ensure_stream(js, cad_inbox_stream(replicas, sites))
    await js.add_consumer(CAD_INBOX, cad_inbox_consumer())
