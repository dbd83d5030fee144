"""Pages: each tier put on duty is announced on `notify.<agency>.<role>` (core NATS) for pager/SMS adapters
and the console.

A page names the log event behind it (`event_id`, and the `Nats-Msg-Id` and `Peerline-Event-Id`
headers): a page sent again for the same event is the same page, which adapters and any stream that
captures `notify.>` de-duplicate on that id, as notify's inbox keys its notices on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from nats.aio.client import Client
from opentelemetry import propagate

from services.escalation import domain
from shared.contracts.escalation import NOTIFY_SUBJECT, TierNotification
from shared.envelope import Envelope


def page(env: Envelope, esc: domain.Escalation, tier: int) -> TierNotification:
    """The page for `tier`, from the escalation's state and the event that put that tier on duty."""
    within = esc.chain[tier - 1].ack_within_s if len(esc.chain) >= tier else 600
    return TierNotification(
        escalation_id=env.subject,
        case_id=esc.case_id,
        agency=env.agency,
        category=esc.category,
        tier=tier,
        role=esc.role(tier) if len(esc.chain) >= tier else "clinician",
        deadline=env.time + timedelta(seconds=within),
        disclosable=esc.disclosable,
        event_id=env.id,
    )


class Pager:
    """Sends pages on the service's connection: the subject and schema the reactions' router declares
    (services.escalation.reactions.routes, so the AsyncAPI document lists them), without the broker's
    per-message publish machinery (a page is one small core-NATS message, sent while the risk flag
    that caused it waits)."""

    def __init__(self, nc: Callable[[], Client]) -> None:
        self.nc = nc

    async def send(self, env: Envelope, esc: domain.Escalation, tier: int) -> None:
        note = page(env, esc, tier)
        headers = {"Peerline-Event-Id": env.id, "Nats-Msg-Id": env.id}
        propagate.inject(headers)
        subject = NOTIFY_SUBJECT.format(agency=env.agency, role=note.role)
        await self.nc().publish(subject, note.model_dump_json().encode(), headers=headers)
