"""CAD over HTTP: `POST /v1/cad/incidents` with an integration token (same rules as the NATS inbox)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field, ValidationError
from pydantic.json_schema import models_json_schema

from services.intake.api.ports import Ports
from services.intake.domain import reader
from services.intake.domain.cad import WebhookIncident
from services.intake.domain.eido import EidoDocument, EidoInvalid
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


REF = "#/components/schemas/{model}"
BODY = {
    "required": True,
    "description": "a NENA EIDO document (what is read: docs/cad.md) or a `peerline-webhook/1` JSON",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [{"$ref": REF.format(model=m.__name__)} for m in (EidoDocument, WebhookIncident)]
            }
        }
    },
}


def _document_schemas(api: FastAPI) -> None:
    """The body is read by `reader` (the same code as the NATS inbox), so FastAPI does not see its
    models: add them to the OpenAPI document by hand."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            doc = generate()
            pairs = [(m, "validation") for m in (EidoDocument, WebhookIncident)]
            _, defs = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
            doc.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
        return api.openapi_schema or generate()

    api.openapi = openapi  # type: ignore[method-assign]


def _unprocessable(exc: ValidationError | EidoInvalid) -> HTTPException:
    """422 naming each bad path, never the value (it may be someone's identity)."""
    if isinstance(exc, EidoInvalid):
        detail = exc.errors()
    else:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return HTTPException(422, detail=detail)


def add_routes(api: FastAPI, ports: Ports) -> None:
    _document_schemas(api)

    @api.post("/v1/cad/incidents", response_model=Taken, tags=["cad"], openapi_extra={"requestBody": BODY})
    async def cad_incident(
        request: Request,
        who: Principal = ports.auth.require("integration"),
        agency: Annotated[str | None, Query(pattern=TOKEN.pattern)] = None,
    ) -> Taken:
        """One CAD update. The first update meeting the agency's triggers reports a critical incident;
        later updates add people and flags. People of the public are never stored."""
        agency = agency or who.agency
        check_agency(who, agency)
        try:
            incident = reader.parse(await request.body())
        except (ValidationError, EidoInvalid) as exc:
            raise _unprocessable(exc) from None
        except ValueError as exc:  # not JSON (nor UTF-8)
            detail = [{"loc": ["body"], "msg": f"not a JSON document ({type(exc).__name__})", "type": "json"}]
            raise HTTPException(422, detail=detail) from None
        outcome = await ports.dispatch().take(agency, incident)
        return Taken(
            incident_ref=outcome.incident_ref,
            events=list(outcome.events),
            outcome=outcome.summary,
            involved=outcome.involved,
            unmapped=outcome.unmapped,
            not_served=outcome.not_served,
        )
