"""Escalation's read model: current policy per agency, escalations (no identities), tier deadlines as
durable timers, and the hash-chained audit trail. Rebuildable from the log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, Connection, Update, bindparam, select

from services.escalation.domain import MAX_TIERS
from services.escalation.projection import audit
from services.escalation.tables import chain_table, escalations, metadata, policies, timers
from shared.contracts.base import Event
from shared.contracts.escalation import (
    DisclosurePolicyRecorded,
    EscalationAcknowledged,
    EscalationResolved,
    EscalationTierAdvanced,
    EscalationTriggered,
    IdentityRevealRefused,
    Tier,
)
from shared.contracts.intake import IdentityDisclosed
from shared.envelope import Envelope
from shared.timers import Timer, cancel, schedule
from shared.topology import consumer

TIER_DEADLINE = "tier_deadline"


# Built once: building statements per event costs several times what SQLite spends running them.
EID: BindParameter[str] = bindparam("eid")
AT: BindParameter[datetime] = bindparam("at")
POLICY_FORGET = policies.delete().where(policies.c.agency == bindparam("agency"))
POLICY_INSERT = policies.insert()
ESCALATION_INSERT = escalations.insert()
CHAIN_OF = select(escalations.c.chain).where(escalations.c.escalation_id == EID)
ONE_ESCALATION = escalations.update().where(escalations.c.escalation_id == EID)
ADVANCED = ONE_ESCALATION.values(
    tier=bindparam("to_tier"), tier_role=bindparam("role"), deadline_at=bindparam("due"), updated_at=AT
)
ACKNOWLEDGED = ONE_ESCALATION.values(
    status="acknowledged", acknowledged_by=bindparam("by"), deadline_at=None, updated_at=AT
)
RESOLVED = ONE_ESCALATION.values(
    status="resolved", outcome=bindparam("result"), deadline_at=None, updated_at=AT
)
REFUSED = ONE_ESCALATION.values(refusals=escalations.c.refusals + 1, updated_at=AT)
DISCLOSED = ONE_ESCALATION.values(disclosures=escalations.c.disclosures + 1, updated_at=AT)


def _timer_id(escalation_id: str, tier: int) -> str:
    return f"{escalation_id}:tier:{tier}"


def _timer(agency: str, escalation_id: str, tier: int, due: datetime) -> Timer:
    return Timer(_timer_id(escalation_id, tier), TIER_DEADLINE, agency, escalation_id, due, {"tier": tier})


def _forget_timers(conn: Connection, escalation_id: str) -> None:
    """Cancel the escalation's tier deadlines (by id, so that in a batch it is written with the timers
    scheduled before it, at commit)."""
    for tier in range(1, MAX_TIERS + 1):
        cancel(conn, timers, _timer_id(escalation_id, tier))


class EscalationProjection:
    name = "escalation-view"
    metadata = metadata
    defers = True  # timers and audit records are written once per batch (shared.projection.later)
    built_late = ("ix_timers_due_at",)  # read by the timer loop only
    # each joins the audit chain; some change the view
    handles = consumer("escalation-view").events

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        audit.append(conn, chain_table, env, seq)
        match event:
            case DisclosurePolicyRecorded():
                self._policy(conn, env, event)
            case EscalationTriggered():
                self._triggered(conn, env, event)
            case EscalationTierAdvanced():
                self._advanced(conn, env, event)
            case EscalationAcknowledged():
                self._settle(conn, env, ACKNOWLEDGED, {"by": event.by})
            case EscalationResolved():
                self._settle(conn, env, RESOLVED, {"result": event.outcome})
            case IdentityRevealRefused():
                conn.execute(REFUSED, {"eid": env.subject, "at": env.time})
            case IdentityDisclosed():
                conn.execute(DISCLOSED, {"eid": event.escalation_id, "at": env.time})
            # any other policy or escalation event only joins the audit chain

    def _policy(self, conn: Connection, env: Envelope, event: DisclosurePolicyRecorded) -> None:
        conn.execute(POLICY_FORGET, {"agency": env.agency})
        row = {
            "agency": env.agency,
            "version": event.policy_version,
            "jurisdiction": event.jurisdiction,
            "body": json.dumps(env.data, sort_keys=True),
            "recorded_at": env.time,
        }
        conn.execute(POLICY_INSERT, row)

    def _triggered(self, conn: Connection, env: Envelope, event: EscalationTriggered) -> None:
        first = event.chain[0] if event.chain else Tier(role="clinician", ack_within_s=600)
        due = env.time + timedelta(seconds=first.ack_within_s)
        row = {
            "escalation_id": env.subject,
            "agency": env.agency,
            "case_id": event.case_id,
            "category": event.category,
            "status": "open",
            "tier": 1,
            "tier_role": first.role,
            "disclosable": event.disclosable,
            "policy_version": event.policy_version,
            "raised_by_role": event.raised_by_role,
            "chain": json.dumps([t.model_dump() for t in event.chain]),
            "disclosures": 0,
            "refusals": 0,
            "triggered_at": env.time,
            "deadline_at": due,
            "updated_at": env.time,
        }
        conn.execute(ESCALATION_INSERT, row)
        schedule(conn, timers, _timer(env.agency, env.subject, 1, due))

    def _advanced(self, conn: Connection, env: Envelope, event: EscalationTierAdvanced) -> None:
        raw = conn.execute(CHAIN_OF, {"eid": env.subject}).scalar()
        chain = [Tier.model_validate(t) for t in json.loads(raw or "[]")]
        within = chain[event.tier - 1].ack_within_s if len(chain) >= event.tier else 600
        due = env.time + timedelta(seconds=within)
        _forget_timers(conn, env.subject)
        values = {"eid": env.subject, "to_tier": event.tier, "role": event.role, "due": due, "at": env.time}
        conn.execute(ADVANCED, values)
        schedule(conn, timers, _timer(env.agency, env.subject, event.tier, due))

    def _settle(self, conn: Connection, env: Envelope, stmt: Update, values: dict[str, object]) -> None:
        _forget_timers(conn, env.subject)
        conn.execute(stmt, {"eid": env.subject, "at": env.time, **values})
