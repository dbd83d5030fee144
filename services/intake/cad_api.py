"""CAD over HTTP: `POST /v1/cad/incidents` with an integration token (same rules as the NATS inbox)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field, ValidationError

from services.intake import reader
from services.intake.eido import EidoInvalid
from services.intake.ports import Ports
from shared.auth import Principal, check_agency
from shared.envelope import TOKEN


class Taken(BaseModel):
    incident_ref: str = Field(description="Peerline's id of the incident (the same for every update)")
    events: list[str] = Field(description="events this update produced; empty = nothing new or no trigger")
    outcome: str = Field(description="what happened, in words (e.g. that no trigger was met)")
    involved: int = Field(description="people named by CAD who are on the roster")
    unmapped: int = Field(description="people named by CAD who are not on the roster (not kept)")
    not_served: int = Field(
        default=0, description="agents of agencies this credential does not serve (ignored, not kept)"
    )


Document = Annotated[
    dict[str, Any],
    Body(
        description=(
            "a NENA EIDO document (what is read: docs/cad.md, schema `EidoDocument` in docs/asyncapi.json)"
            " or a `peerline-webhook/1` JSON"
        )
    ),
]


def _unprocessable(exc: ValidationError | EidoInvalid) -> HTTPException:
    """422 naming each bad path, never the value (it may be someone's identity)."""
    if isinstance(exc, EidoInvalid):
        detail = exc.errors()
    else:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return HTTPException(422, detail=detail)


def add_routes(api: FastAPI, ports: Ports) -> None:
    @api.post("/v1/cad/incidents", response_model=Taken, tags=["cad"])
    async def cad_incident(
        body: Document,
        who: Principal = ports.auth.require("integration"),
        agency: Annotated[str | None, Query(pattern=TOKEN.pattern)] = None,
    ) -> Taken:
        """One CAD update. The first update meeting the agency's triggers reports a critical incident;
        later updates add people and flags. People of the public are never stored."""
        agency = agency or who.agency
        check_agency(who, agency)
        try:
            incident = reader.read(body)
        except (ValidationError, EidoInvalid) as exc:
            raise _unprocessable(exc) from None
        outcome = await ports.dispatch().take(agency, incident)
        return Taken(
            incident_ref=outcome.incident_ref,
            events=list(outcome.events),
            outcome=outcome.summary,
            involved=outcome.involved,
            unmapped=outcome.unmapped,
            not_served=outcome.not_served,
        )
