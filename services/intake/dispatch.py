"""Taking one CAD update: map its people through the roster, decide on the incident, append.

Shared by the HTTP route and the CAD inbox worker. Safe to repeat: the incident's id is derived from
agency + CAD tracking id and every append checks the aggregate's version, so a redelivered or
concurrent update re-decides on what is already there and never reports twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.intake import incident as rules
from services.intake.cad import Incident
from services.intake.policy import Policies
from services.intake.vault import Vault
from shared.contracts.intake import Involved
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict, EventStore

SOURCE = "peerline/intake-cad"


@dataclass(frozen=True)
class Outcome:
    incident_ref: str
    events: tuple[str, ...]  # names of the events appended (empty: nothing new, or no trigger)
    involved: int
    unmapped: int  # people CAD named who are not on the roster


class Dispatch:
    def __init__(self, store: EventStore, vault: Vault, policies: Policies) -> None:
        self.store, self.vault, self.policies = store, vault, policies

    def _agency(self, publisher: str, cad_agency: str | None) -> str | None:
        """The Peerline agency CAD names: the publisher's own, or one the region's configuration maps
        for this publisher (`cad_agencies`). Any other agency is not this publisher's to name: None."""
        if cad_agency is None or cad_agency.lower() == publisher:
            return publisher
        return self.policies.of(publisher).triggers.cad_agencies.get(cad_agency)

    def _involved(self, agency: str, incident: Incident) -> tuple[tuple[Involved, ...], int]:
        """People CAD names, looked up only in the rosters of agencies this publisher may name."""
        by_agency: dict[str, list[str]] = {}
        for p in incident.people:
            if (a := self._agency(agency, p.cad_agency)) is not None:
                by_agency.setdefault(a, []).append(p.cad_id)
        refs = {(a, c): m for a, ids in by_agency.items() for c, m in self.vault.lookup(a, ids).items()}
        out = []
        for p in incident.people:
            a = self._agency(agency, p.cad_agency)
            ref = refs.get((a, p.cad_id)) if a is not None else None
            if a is not None and ref is not None:
                out.append(Involved(member_ref=ref, agency=a, role=p.role, unit=p.unit))
        return tuple(out), len(incident.people) - len(out)

    async def take(self, agency: str, incident: Incident, cause: Envelope | None = None) -> Outcome:
        triggers = self.policies.of(agency).triggers
        involved, unmapped = await asyncio.to_thread(self._involved, agency, incident)
        named = (self._agency(agency, a) for a in incident.cad_agencies)
        agencies = tuple(dict.fromkeys([agency, *(a for a in named if a is not None)]))
        incident_ref = rules.incident_id(agency, incident.tracking_id)
        for _ in range(10):
            history = await self.store.load(agency, "incident", incident_ref)
            state = rules.fold([s.envelope.payload() for s in history.events])
            events = rules.decide(state, incident, involved, agencies, triggers)
            if not events:
                return Outcome(incident_ref, (), len(involved), unmapped)
            envs = [
                Envelope.wrap(e, agency=agency, subject=incident_ref, source=SOURCE, cause=cause)
                for e in events
            ]
            try:
                await self.store.append(envs, expected=history.version)
            except ConcurrencyConflict:
                continue
            return Outcome(incident_ref, tuple(e.name for e in events), len(involved), unmapped)
        raise ConcurrencyConflict(incident_ref, 0)
