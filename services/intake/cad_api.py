"""CAD over HTTP: `POST /v1/cad/incidents` with an integration token (same rules as the NATS inbox)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, FastAPI, Query
from pydantic import BaseModel, Field

from services.intake import cad
from services.intake.ports import Ports
from shared.auth import Principal, check_agency
from shared.envelope import TOKEN


class Taken(BaseModel):
    incident_ref: str = Field(description="Peerline's id of the incident (the same for every update)")
    events: list[str] = Field(description="events this update produced; empty = nothing new or no trigger")
    involved: int = Field(description="people named by CAD who are on the roster")
    unmapped: int = Field(description="people named by CAD who are not on the roster (not kept)")


Document = Annotated[
    cad.EidoDocument | cad.WebhookIncident,
    Body(description="a NENA EIDO incident document (subset: docs/cad.md) or a `peerline-webhook/1` JSON"),
]


def add_routes(api: FastAPI, ports: Ports) -> None:
    @api.post("/v1/cad/incidents", response_model=Taken, tags=["cad"])
    async def cad_incident(
        body: Document,
        who: Principal = ports.auth.require("integration"),
        agency: Annotated[str | None, Query(pattern=TOKEN.pattern)] = None,
    ) -> Taken:
        """One CAD update. The first update meeting the agency's triggers reports a critical incident;
        later updates of the same incident only add people. People of the public are never stored."""
        agency = agency or who.agency
        check_agency(who, agency)
        outcome = await ports.dispatch().take(agency, cad.normalize(body))
        return Taken(
            incident_ref=outcome.incident_ref,
            events=list(outcome.events),
            involved=outcome.involved,
            unmapped=outcome.unmapped,
        )
