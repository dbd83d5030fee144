"""Intake's durable consumers on the log, and the CAD inbox it reads raw dispatch documents from.

`PEERLINE_CAD_INBOX` holds raw CAD documents (they name members of the public), so it is a work
queue (a document leaves once intake has taken it) with a short max age, never part of the log.
`provision_streams` is called by `shared.topology.provision`.
"""

from __future__ import annotations

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


def cad_inbox_stream(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=CAD_INBOX,
        subjects=[CAD_SUBJECTS],
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


async def provision_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create or update the CAD inbox and its consumer (idempotent)."""
    from shared.topology import ensure_stream

    await ensure_stream(js, cad_inbox_stream(replicas))
    await js.add_consumer(CAD_INBOX, cad_inbox_consumer())
