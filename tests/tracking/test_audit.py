"""The coordinator's timeline: process facts in order, scoped to the agency, never content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from services.tracking.projection.audit import AuditProjection
from services.tracking.queries import timeline
from shared.contracts.base import Event
from shared.contracts.escalation import EscalationAcknowledged, EscalationResolved, EscalationTriggered
from shared.contracts.intake import SupportRequested
from shared.contracts.matching import AssignmentAccepted, PeerAssigned
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import FollowupCompleted, FollowupScheduled
from shared.envelope import Envelope
from shared.projection import ensure_schema

pytestmark = pytest.mark.unit
T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)


def test_a_case_timeline_shows_who_was_assigned_when_follow_ups_and_escalation_state_only() -> None:
    engine = create_engine("sqlite://")
    projection = AuditProjection()
    ensure_schema(engine, projection)
    steps: list[tuple[Event, str]] = [
        (SupportRequested(activation="peer", member_ref="m-secret", token_hash="0" * 64), "c-1"),
        (PeerAssigned(peer_ref="p-7", peer_agency="cfd"), "c-1"),
        (AssignmentAccepted(peer_ref="p-7"), "c-1"),
        (
            ContactLogged(
                peer_ref="p-7", week="2026-W06", mode="phone", categories=("grief",), duration="30_60m"
            ),
            "c-1",
        ),
        (
            EscalationTriggered(
                case_id="c-1",
                category="imminent_self_harm",
                raised_by_role="peer",
                policy_version=1,
                disclosable=True,
            ),
            "x-1",
        ),
        (EscalationAcknowledged(tier=1, by="clin-1"), "x-1"),
        (EscalationResolved(outcome="emergency_services"), "x-1"),
        (FollowupScheduled(case_id="c-1", peer_ref="p-7", due_at="2026-02-09T09:00:00Z", n=1), "f-1"),
        (FollowupCompleted(case_id="c-1"), "f-1"),
        (CaseClosed(), "c-1"),
        (SupportRequested(activation="self", member_ref="m-2", token_hash="0" * 64), "c-2"),
    ]
    with engine.begin() as conn:
        for seq, (event, subject) in enumerate(steps, start=1):
            env = Envelope.wrap(
                event, agency="cfd", subject=subject, source="t", time=T0 + timedelta(hours=seq)
            )
            projection.apply(conn, env, event, seq)
    with engine.connect() as conn:
        entries = timeline(conn, "cfd", "c-1")
        other_agency = timeline(conn, "cpd", "c-1")
    assert [e["what"] for e in entries] == [
        "requested",
        "peer_assigned",
        "assignment_accepted",
        "contact_reported",
        "escalation_triggered",
        "escalation_acknowledged",
        "escalation_resolved",
        "followup_scheduled",
        "followup_completed",
        "closed",
    ]
    assert entries[1]["peer_ref"] == "p-7"
    assert other_agency == []
    shown = repr(entries)
    for content in ("m-secret", "grief", "phone", "imminent_self_harm", "emergency_services", "clin-1"):
        assert content not in shown
