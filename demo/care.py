"""What follows a contact: wellness's follow-ups (most done on time, some overdue) and, on a risk flag,
escalation's concern — the clinician paged, usually acknowledging within the deadline, sometimes the
next tier paged first — then resolved."""

from __future__ import annotations

from datetime import datetime, timedelta

from demo import shape
from demo.engine import Engine
from services.escalation import domain as escalation
from services.escalation.commands import POLICY_ID
from services.escalation.domain.policies import BROAD, NARROW
from services.escalation.reactions import escalation_id_for
from services.wellness import domain as wellness
from services.wellness.domain.policy import AgencyPolicy
from shared.contracts.base import Event
from shared.decision import Aggregate, event_ids
from shared.demo_people import on_call_ref
from shared.envelope import Envelope

OUTCOMES: tuple[tuple[escalation.Outcome, float], ...] = (
    ("member_safe", 50),
    ("referred_to_clinician", 35),
    ("emergency_services", 10),
    ("no_action", 5),
)


class Care:
    def __init__(self, engine: Engine, policy: AgencyPolicy = AgencyPolicy()) -> None:
        self.engine, self.policy = engine, policy
        self.followups: dict[str, wellness.Followup] = {}
        self.escalations: dict[str, escalation.Escalation] = {}
        self.policies: dict[str, escalation.Policy] = {}

    def record_policy(self, agency: str, index: int) -> None:
        """The agency's first disclosure policy, as escalation records it when it first starts."""
        proposed = (BROAD, BROAD, NARROW)[index % 3]
        events = escalation.record_policy(escalation.Policy(), proposed)
        ids = event_ids(Aggregate(agency, "policy", POLICY_ID), len(events), "seed")  # as escalation's seed
        self.engine.emit("escalation", agency, POLICY_ID, events, ids=ids)
        policy = escalation.Policy()
        for event in events:
            policy = escalation.evolve_policy(policy, event)
        self.policies[agency] = policy

    # --- follow-ups --------------------------------------------------------------------------------

    def plan_followups(self, agency: str, case_id: str, peer_ref: str, contact: Envelope) -> None:
        e = self.engine
        for fid, scheduled in wellness.plan_followups(case_id, peer_ref, contact.time, self.policy):
            self._followup(agency, fid, [scheduled])
            e.at(datetime.fromisoformat(scheduled.due_at) + timedelta(seconds=30), self._due, agency, fid)

    def _followup(self, agency: str, fid: str, events: list[Event]) -> None:
        self.engine.emit("wellness", agency, fid, events)
        state = self.followups.get(fid, wellness.Followup())
        for event in events:
            state = wellness.evolve_followup(state, event)
        self.followups[fid] = state

    def _due(self, agency: str, fid: str) -> None:
        e = self.engine
        self._followup(agency, fid, wellness.decide_due(self.followups[fid], e.now))
        if e.rng.random() < 0.78:
            e.at(e.now + timedelta(hours=e.rng.uniform(1, 40)), self._complete, agency, fid)
        else:
            e.at(e.now + self.policy.followup_grace, self._overdue, agency, fid)

    def _overdue(self, agency: str, fid: str) -> None:
        e = self.engine
        self._followup(
            agency, fid, wellness.decide_overdue(self.followups[fid], e.now, self.policy.followup_grace)
        )
        if e.rng.random() < 0.5:  # done late
            e.at(e.now + timedelta(days=e.rng.uniform(0.5, 6)), self._complete, agency, fid)

    def _complete(self, agency: str, fid: str) -> None:
        state = self.followups[fid]
        self._followup(agency, fid, wellness.complete_followup(state, state.peer_ref))
        del self.followups[fid]

    # --- escalations -------------------------------------------------------------------------------

    def raise_concern(self, agency: str, case_id: str, peer_ref: str, contact: Envelope) -> None:
        """What escalation's reactor decides for a contact with a risk flag (same id, same command)."""
        xid = escalation_id_for(contact)
        cmd = escalation.RaiseConcern(case_id, "imminent_self_harm", "peer", raised_by=peer_ref)
        self._escalate(
            agency,
            xid,
            escalation.raise_concern(escalation.Escalation(), self.policies[agency], cmd),
            contact,
        )
        e = self.engine
        if e.rng.random() < 0.85:
            e.at(e.now + shape.minutes(e.rng, 0.5, 8), self._acknowledge, agency, xid, "clinician")
        else:
            first = self.escalations[xid].chain[0].ack_within_s
            e.at(e.now + timedelta(seconds=first + 1), self._deadline, agency, xid)

    def _escalate(self, agency: str, xid: str, events: list[Event], cause: Envelope | None = None) -> None:
        self.engine.emit("escalation", agency, xid, events, cause)
        state = self.escalations.get(xid, escalation.Escalation())
        for event in events:
            state = escalation.evolve(state, event)
        self.escalations[xid] = state

    def _deadline(self, agency: str, xid: str) -> None:
        self._escalate(agency, xid, escalation.deadline_passed(self.escalations[xid], 1))
        e = self.engine
        e.at(e.now + shape.minutes(e.rng, 1, 9), self._acknowledge, agency, xid, "coordinator")

    def _acknowledge(self, agency: str, xid: str, role: str) -> None:
        by = on_call_ref(agency, role)  # whom shared.demo_people puts on call
        self._escalate(agency, xid, escalation.acknowledge(self.escalations[xid], by=by, role=role))
        e = self.engine
        e.at(e.now + shape.minutes(e.rng, 15, 180), self._resolve, agency, xid, by, role)

    def _resolve(self, agency: str, xid: str, by: str, role: str) -> None:
        outcome = shape.pick(self.engine.rng, OUTCOMES)
        self._escalate(
            agency, xid, escalation.resolve(self.escalations[xid], by=by, role=role, outcome=outcome)
        )
        del self.escalations[xid]
