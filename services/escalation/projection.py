"""Escalation's read model: current policy per agency, escalations (no identities), tier deadlines as
durable timers, and the hash-chained audit trail. Rebuildable from the log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import (
    BindParameter,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Update,
    bindparam,
    select,
)

from services.escalation import audit
from services.escalation.domain import Policy
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
from shared.timers import Timer, schedule, timers_table
from shared.topology import consumer

TIER_DEADLINE = "tier_deadline"
metadata = MetaData()
policies = Table(
    "policies",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("jurisdiction", String(64), nullable=False),
    Column("body", String(4000), nullable=False),  # the recorded event's data (JSON)
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", String(96), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("case_id", String(96), nullable=False, index=True),
    Column("category", String(48), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("tier", Integer, nullable=False),
    Column("tier_role", String(16), nullable=False),
    Column("disclosable", Boolean, nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("raised_by_role", String(32), nullable=False),
    Column("chain", String(1000), nullable=False),
    Column("acknowledged_by", String(96)),
    Column("outcome", String(32)),
    Column("disclosures", Integer, nullable=False, default=0),
    Column("refusals", Integer, nullable=False, default=0),
    Column("triggered_at", DateTime(timezone=True), nullable=False),
    Column("deadline_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
timers = timers_table(metadata)
chain_table = audit.audit_table(metadata)


# Built once: building statements per event costs several times what SQLite spends running them.
EID: BindParameter[str] = bindparam("eid")
AT: BindParameter[datetime] = bindparam("at")
POLICY_FORGET = policies.delete().where(policies.c.agency == bindparam("agency"))
POLICY_INSERT = policies.insert()
ESCALATION_INSERT = escalations.insert()
CHAIN_OF = select(escalations.c.chain).where(escalations.c.escalation_id == EID)
TIMERS_FORGET = timers.delete().where(timers.c.aggregate_id == EID)
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


def _timer(agency: str, escalation_id: str, tier: int, due: datetime) -> Timer:
    return Timer(f"{escalation_id}:tier:{tier}", TIER_DEADLINE, agency, escalation_id, due, {"tier": tier})


class EscalationProjection:
    name = "escalation-view"
    metadata = metadata
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
        conn.execute(TIMERS_FORGET, {"eid": env.subject})
        values = {"eid": env.subject, "to_tier": event.tier, "role": event.role, "due": due, "at": env.time}
        conn.execute(ADVANCED, values)
        schedule(conn, timers, _timer(env.agency, env.subject, event.tier, due))

    def _settle(self, conn: Connection, env: Envelope, stmt: Update, values: dict[str, object]) -> None:
        conn.execute(TIMERS_FORGET, {"eid": env.subject})
        conn.execute(stmt, {"eid": env.subject, "at": env.time, **values})


def current_policy(conn: Connection, agency: str) -> Policy:
    raw = conn.execute(select(policies.c.body).where(policies.c.agency == agency)).scalar()
    if raw is None:
        return Policy()
    event = DisclosurePolicyRecorded.model_validate(json.loads(raw))
    return Policy(
        event.policy_version,
        event.jurisdiction,
        event.categories,
        event.disclosable,
        event.chain,
        event.self_harm_requires,
    )


OPEN_COLUMNS = (
    escalations.c.escalation_id,
    escalations.c.case_id,
    escalations.c.category,
    escalations.c.status,
    escalations.c.tier,
    escalations.c.tier_role,
    escalations.c.disclosable,
    escalations.c.policy_version,
    escalations.c.triggered_at,
    escalations.c.deadline_at,
)


def open_escalations(conn: Connection, agency: str, limit: int) -> list[dict[str, object]]:
    q = (
        select(*OPEN_COLUMNS)
        .where(escalations.c.agency == agency, escalations.c.status != "resolved")
        .order_by(escalations.c.triggered_at)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def open_for_case(conn: Connection, agency: str, case_id: str) -> str | None:
    q = select(escalations.c.escalation_id).where(
        escalations.c.agency == agency, escalations.c.case_id == case_id, escalations.c.status != "resolved"
    )
    return conn.execute(q.limit(1)).scalar()


def find(conn: Connection, escalation_id: str) -> dict[str, object] | None:
    row = conn.execute(
        select(*OPEN_COLUMNS, escalations.c.agency).where(escalations.c.escalation_id == escalation_id)
    ).mappings()
    first = row.first()
    return dict(first) if first else None
