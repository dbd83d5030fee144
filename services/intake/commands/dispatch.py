"""Taking one CAD update: map its people through the roster, decide on the incident, append.

Shared by the HTTP route and the CAD inbox worker. Safe to repeat: the incident's id is derived from
agency + CAD tracking id and every append checks the aggregate's version, so a redelivered or
concurrent update re-decides on what is already there and never reports twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.intake.domain import incident as rules
from services.intake.domain.cad import Incident
from services.intake.domain.policy import Policies
from services.intake.vault import Vault
from shared import decision
from shared.contracts.intake import Involved
from shared.decision import Aggregate, payloads
from shared.envelope import Envelope
from shared.eventstore import EventStore

SOURCE = "peerline/intake-cad"


@dataclass(frozen=True)
class Outcome:
    incident_ref: str
    events: tuple[str, ...]  # names of the events appended (empty: nothing new, or no trigger)
    involved: int
    unmapped: int  # people CAD named who are not on the roster
    not_served: int = 0  # agents of agencies this credential does not serve (ignored)
    reported: bool = False  # the incident is (now or already) reported

    @property
    def summary(self) -> str:
        if "critical_incident_reported" in self.events:
            return "reported: the incident meets the agency's critical-incident triggers"
        if self.events:
            return "updated: the reported incident gained " + ", ".join(self.events)
        if self.reported:
            return "nothing new: the reported incident already holds everything in this update"
        return "no report: the incident meets none of the agency's critical-incident triggers (yet)"


class Dispatch:
    def __init__(self, store: EventStore, vault: Vault, policies: Policies) -> None:
        self.store, self.vault, self.policies = store, vault, policies

    def _involved(self, publisher: str, incident: Incident) -> tuple[tuple[Involved, ...], int, int]:
        """People of served agencies on the roster; and how many were not on it, or not served."""
        by_agency: dict[str, list[str]] = {}
        served = [(p, self.policies.agency_of(publisher, p.organization)) for p in incident.people]
        for p, a in served:
            if a is not None:
                by_agency.setdefault(a, []).append(p.cad_id)
        refs = {(a, c): m for a, ids in by_agency.items() for c, m in self.vault.lookup(a, ids).items()}
        out = []
        for p, a in served:
            ref = refs.get((a, p.cad_id)) if a is not None else None
            if ref is not None and a is not None:
                out.append(Involved(member_ref=ref, agency=a, role=p.role, unit=p.unit, deceased=p.deceased))
        not_served = sum(1 for _, a in served if a is None)
        return tuple(out), len(served) - len(out) - not_served, not_served

    async def take(self, agency: str, incident: Incident, cause: Envelope | None = None) -> Outcome:
        triggers = self.policies.of(agency).triggers
        involved, unmapped, not_served = await asyncio.to_thread(self._involved, agency, incident)
        named = (self.policies.agency_of(agency, org) for org in incident.organizations)
        agencies = tuple(dict.fromkeys([agency, *(a for a in named if a is not None)]))
        incident_ref = rules.incident_id(agency, incident.tracking_id)
        done = await decision.decide(
            self.store,
            Aggregate(agency, "incident", incident_ref),
            lambda history: rules.fold(payloads(history)),
            lambda state: rules.decide(state, incident, involved, agencies, triggers),
            source=SOURCE,
            cause=cause,
        )
        names = tuple(e.name for e in done.events)
        reported = done.state.reported or bool(done.events)
        return Outcome(incident_ref, names, len(involved), unmapped, not_served, reported)
