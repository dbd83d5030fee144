"""A support request's life, each step decided by the service that owns it: intake opens the case,
matching offers it (declines, expiries and unmatched requests included), the peer reports coded contacts
to tracking, and the case is closed. Follow-ups and risk flags are handed to `demo.care`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from demo import shape
from demo.care import Care
from demo.engine import Engine
from demo.roster import UNITS, Roster
from services.intake import domain as intake
from services.matching import domain as matching
from services.tracking import domain as tracking
from shared.contracts.base import Event
from shared.contracts.intake import Preferences
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed
from shared.envelope import Envelope

# Who asks, by the agency's kind (the last word of its id): mostly its own discipline, and its dispatchers
MEMBERS: dict[str, tuple[tuple[str, float], ...]] = {
    "fire": (("fire", 75), ("ems", 15), ("dispatch", 10)),
    "police": (("police", 75), ("dispatch", 13), ("corrections", 12)),
    "ems": (("ems", 82), ("dispatch", 18)),
}
MIXED: tuple[tuple[str, float], ...] = (("fire", 3), ("ems", 3), ("police", 3), ("dispatch", 1))


@dataclass
class Run:
    """One open case as matching and tracking see it."""

    agency: str
    m: matching.Case
    t: tracking.Case = field(default_factory=tracking.Case)
    witnesses: frozenset[str] = frozenset()
    holder: str | None = None
    after_incident: bool = False


class Cases:
    def __init__(self, engine: Engine, roster: Roster, care: Care) -> None:
        self.engine, self.roster, self.care = engine, roster, care
        self.runs: dict[str, Run] = {}

    def request(
        self, agency: str, member_ref: str | None = None, incident: tuple[str, frozenset[str]] | None = None
    ) -> None:
        e, rng = self.engine, self.engine.rng
        case_id = e.new_id("c")
        cmd = intake.RequestSupport(
            activation="post_incident" if incident else "self",
            discipline=shape.pick(rng, MEMBERS.get(agency.rsplit("-", 1)[-1], MIXED)),
            unit=rng.choice(UNITS),
            contact_preference=shape.pick(rng, (("any", 5), ("phone", 3), ("text", 2), ("in_person", 2))),
            preferences=Preferences(language="es" if rng.random() < 0.08 else None),
            incident_ref=incident[0] if incident else None,
        )
        events = intake.request_support(
            intake.Case(),
            cmd,
            member_ref=member_ref or e.new_id("m"),
            token_hash=hashlib.sha256(e.new_bytes()).hexdigest(),
        )
        (env,) = e.emit("intake", agency, case_id, events)
        run = Run(
            agency,
            matching.Case(),
            witnesses=incident[1] if incident else frozenset(),
            after_incident=bool(incident),
        )
        run.m = matching.evolve(run.m, events[0], agency, case_id)
        run.t = tracking.evolve(run.t, events[0])
        self.runs[case_id] = run
        e.at(e.now + timedelta(seconds=rng.uniform(0.05, 2)), self._decide, case_id, matching.assign, env)

    def _ctx(self, run: Run) -> matching.Context:
        return matching.Context(self.engine.now, self.roster.policy, run.witnesses)

    def _decide(self, case_id: str, decide: matching.Decide, cause: Envelope | None = None) -> None:
        run = self.runs[case_id]
        events = decide(run.m, self.roster.candidates(run.agency), self._ctx(run))
        self._apply(case_id, run, "matching", events, cause)

    def _apply(
        self, case_id: str, run: Run, identity: str, events: list[Event], cause: Envelope | None
    ) -> list[Envelope]:
        e, rng = self.engine, self.engine.rng
        envs = e.emit(identity, run.agency, case_id, events, cause)
        for env, event in zip(envs, events, strict=True):
            run.m = matching.evolve(run.m, event, run.agency)
            run.t = tracking.evolve(run.t, event)
            match event:
                case PeerAssigned():
                    self.roster.assigned(run.agency, event.peer_ref)
                    run.holder = event.peer_ref
                    e.at(
                        e.now + shape.minutes(rng, 0.5, 25), self._respond, case_id, event.assignment_id, env
                    )
                case AssignmentDeclined() | AssignmentExpired() | CaseClosed() if run.holder:
                    self.roster.released(run.agency, run.holder)
                    run.holder = None
                case RequestUnmatched():  # the coordinator tries again within the hour
                    e.at(e.now + shape.minutes(rng, 10, 60), self._retry, case_id)
                case AssignmentAccepted():
                    first = timedelta(hours=rng.expovariate(1 / 14) + 0.3)
                    e.at(e.now + first, self._contact, case_id, env)
        return envs

    def _respond(self, case_id: str, assignment_id: str, offered: Envelope) -> None:
        run = self.runs[case_id]
        offer = run.m.offer
        if offer is None or offer.assignment_id != assignment_id or run.m.status != "offered":
            return
        roll = self.engine.rng.random()
        if roll < 0.86:
            self._apply(case_id, run, "matching", matching.accept(run.m, offer.peer_ref), offered)
        elif roll < 0.93:
            reason = shape.pick(self.engine.rng, shape.DECLINES)
            events = matching.decline(
                run.m, offer.peer_ref, self.roster.candidates(run.agency), self._ctx(run), reason
            )
            self._apply(case_id, run, "matching", events, offered)
        elif offer.respond_by is not None:  # nobody answers: matching's timer expires the offer
            self.engine.at(offer.respond_by + timedelta(seconds=20), self._expire, case_id, assignment_id)

    def _expire(self, case_id: str, assignment_id: str) -> None:
        run = self.runs[case_id]
        self._apply(
            case_id,
            run,
            "matching",
            matching.expire(run.m, assignment_id, self.roster.candidates(run.agency), self._ctx(run)),
            None,
        )

    def _retry(self, case_id: str) -> None:
        run = self.runs[case_id]
        events = matching.rematch(run.m, self.roster.candidates(run.agency), self._ctx(run))
        if isinstance(events[0], RequestUnmatched):  # still nobody: the coordinator closes it by hand
            self._apply(case_id, run, "tracking", tracking.close_case(run.t, "no_contact"), None)
            del self.runs[case_id]
            return
        self._apply(case_id, run, "matching", events, None)

    def _contact(self, case_id: str, cause: Envelope) -> None:
        e, rng = self.engine, self.engine.rng
        run = self.runs[case_id]
        assert run.holder is not None
        cmd = tracking.LogContact(
            mode=shape.pick(rng, shape.MODES),
            categories=shape.categories(rng, e.now, run.after_incident),
            duration=shape.pick(rng, shape.DURATIONS),
            referral=shape.pick(rng, shape.REFERRALS),
            followup_wanted=rng.random() < 0.45,
            risk_flag=rng.random() < 0.035,
        )
        by = tracking.Reporter(run.holder, run.m.offer.peer_agency if run.m.offer else run.agency)
        (env,) = self._apply(
            case_id,
            run,
            "tracking",
            tracking.log_contact(run.t, by, cmd, current_week=tracking.iso_week(e.now)),
            cause,
        )
        self.roster.contacted(run.agency, run.holder)
        if run.t.contacts == 1:
            self.care.plan_followups(run.agency, case_id, run.holder, env)
        if cmd.risk_flag:
            self.care.raise_concern(run.agency, case_id, run.holder, env)
        if rng.random() < 0.3:
            e.at(e.now + timedelta(days=rng.uniform(2, 12)), self._contact, case_id, env)
        else:
            e.at(e.now + timedelta(days=rng.uniform(0.5, 10)), self._close, case_id, env)

    def _close(self, case_id: str, cause: Envelope) -> None:
        run = self.runs.pop(case_id)
        outcome = shape.pick(self.engine.rng, shape.CLOSE_OUTCOMES)
        self._apply(case_id, run, "tracking", tracking.close_case(run.t, outcome), cause)
