"""Critical incidents from dispatch: intake reports each one (its own trigger rules on a CAD update),
wellness offers every crew member and dispatcher on it a voluntary debrief (and a check-in when their
exposure crosses the threshold), some accept, some decline, and a few ask for a peer afterwards."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from demo import shape
from demo.cases import Cases
from demo.engine import Engine
from demo.roster import UNITS
from services.intake.domain import incident as intake
from services.intake.domain.cad import Incident
from services.intake.domain.policy import Triggers
from services.wellness import domain as wellness
from services.wellness.domain.policy import AgencyPolicy
from shared.contracts.intake import CriticalIncidentReported, Involved
from shared.envelope import Envelope


class Incidents:
    def __init__(self, engine: Engine, cases: Cases, policy: AgencyPolicy = AgencyPolicy()) -> None:
        self.engine, self.cases, self.policy = engine, cases, policy
        self.seen: dict[str, list[datetime]] = defaultdict(list)  # member_ref → incidents they were on
        self.exposure: dict[str, wellness.Exposure] = {}

    def responder(self, agency: str) -> str:
        """One of the agency's members who work incidents, by a stable pseudonym (never a name)."""
        n = self.engine.rng.randrange(self.engine.region.responders)
        return f"m-{agency}-r{n:04d}"

    def report(self, agency: str) -> None:
        e, rng = self.engine, self.engine.rng
        cad_type, flag, _ = shape.pick(rng, tuple((row, row[2]) for row in shape.INCIDENTS))
        crew = {self.responder(agency) for _ in range(rng.randint(3, 7))}
        people = [
            Involved(member_ref=m, agency=agency, role="responder", unit=rng.choice(UNITS))
            for m in sorted(crew)
        ]
        people += [
            Involved(
                member_ref=self.responder(agency),
                agency=agency,
                role=rng.choice(("call_taker", "dispatcher")),
            )
        ]
        update = Incident(
            tracking_id=e.new_id("cad"),
            types=(cad_type,),
            priority=1,
            occurred_at=e.now - shape.minutes(rng, 20, 90),
            organizations=(),
            people=(),
            stated_flags=frozenset({flag}),
            responder_conditions=(),
            victims=(),
        )
        incident_id = intake.incident_id(agency, update.tracking_id)
        events = intake.decide(intake.IncidentState(), update, tuple(people), (agency,), Triggers())
        (env,) = e.emit("intake-cad", agency, incident_id, events)
        e.at(e.now + timedelta(seconds=rng.uniform(1, 20)), self._offer, agency, incident_id, env)

    def _offer(self, agency: str, incident_id: str, reported: Envelope) -> None:
        e, rng = self.engine, self.engine.rng
        event = reported.payload()
        assert isinstance(event, CriticalIncidentReported)
        when = date.fromisoformat(event.occurred_at[:10]) if event.occurred_at else None
        for person in event.involved:
            self._exposure(agency, person.member_ref)
            offer_id = wellness.debrief_id(agency, incident_id, person.member_ref)
            offered = wellness.offer_debrief(
                wellness.Debrief(),
                incident_agency=agency,
                incident_id=incident_id,
                reported_at=reported.time,
                flags=event.flags,
                person=person,
                policy=self.policy,
                incident_type=event.incident_type,
                incident_date=when,
            )
            envs = e.emit("wellness", agency, offer_id, offered, reported)
            state = wellness.evolve_debrief(wellness.Debrief(), offered[0])
            roll = rng.random()
            if roll < 0.62:  # answered: accepted within the window, or declined
                closes = state.window_closes or e.now
                later = e.now + (closes - e.now) * rng.uniform(0.02, 0.6)
                e.at(later, self._answer, agency, offer_id, state, person.member_ref, roll < 0.42, envs[0])
            if rng.random() < 0.12:  # asks a peer for support in the days after
                witnesses = frozenset(p.member_ref for p in event.involved)
                e.at(
                    e.now + timedelta(days=rng.uniform(0.5, 6)),
                    self.cases.request,
                    agency,
                    person.member_ref,
                    (incident_id, witnesses),
                )

    def _answer(
        self,
        agency: str,
        offer_id: str,
        state: wellness.Debrief,
        member_ref: str,
        accept: bool,
        cause: Envelope,
    ) -> None:
        self.engine.emit(
            "wellness",
            agency,
            offer_id,
            wellness.answer_debrief(state, member_ref, accept, self.engine.now),
            cause,
        )

    def _exposure(self, agency: str, member_ref: str) -> None:
        """Wellness counts the person's incidents in the agency's window; at the threshold, a check-in."""
        now, window = self.engine.now, self.policy.exposure_window
        seen = [t for t in self.seen[member_ref] if now - t < window] + [now]
        self.seen[member_ref] = seen
        state = self.exposure.get(member_ref, wellness.Exposure())
        events = wellness.decide_exposure(state, member_ref, len(seen), now, self.policy)
        for env in self.engine.emit("wellness", agency, wellness.exposure_id(member_ref), events):
            state = wellness.evolve_exposure(state, env.payload(), env.time)
        self.exposure[member_ref] = state
