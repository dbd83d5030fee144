"""Intake's HTTP API (thin): request model → command → domain → append → response model."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Header, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from services.intake import domain, projection
from shared.auth import Auth, Principal, check_agency
from shared.contracts.intake import Activation, Preferences
from shared.envelope import TOKEN, Envelope, new_id
from shared.eventstore import ConcurrencyConflict, EventStore

SOURCE = "peerline/intake"
AgencyId = Annotated[str, Field(pattern=TOKEN.pattern, description="agency id, e.g. `cfd`")]


class CreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: AgencyId
    activation: Activation
    discipline: str | None = Field(default=None, max_length=32)
    preferences: Preferences = Preferences()


class Created(BaseModel):
    case_id: str
    case_token: str = Field(
        description="keep it: it is the only way to follow this request without an account"
    )
    status: domain.Status


class CaseView(BaseModel):
    case_id: str
    activation: str
    status: str
    requested_at: datetime
    updated_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def build_api(store: Callable[[], EventStore], engine: Engine, auth: Auth) -> FastAPI:
    api = FastAPI(title="Peerline intake", version="1", description="Requests for peer support.")

    @api.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/v1/requests", status_code=status.HTTP_201_CREATED, response_model=Created, tags=["requests"])
    async def create_request(
        body: CreateRequest, who: Principal = auth.require("member", "peer", "coordinator")
    ) -> Created:
        check_agency(who, body.agency)
        case_id, token = new_id("c"), secrets.token_urlsafe(32)
        cmd = domain.RequestSupport(body.activation, body.discipline, body.preferences)
        events = domain.request_support(
            domain.Case(), cmd, member_ref=new_id("m"), token_hash=token_hash(token)
        )
        envs = [Envelope.wrap(e, agency=body.agency, subject=case_id, source=SOURCE) for e in events]
        await store().append(envs, expected=0)
        return Created(case_id=case_id, case_token=token, status="requested")

    def visible_case(case_id: str, case_token: str | None) -> dict[str, object]:
        with engine.connect() as conn:
            row = projection.find(conn, case_id)
        if (
            row is None
            or case_token is None
            or not hmac.compare_digest(str(row["token_hash"]), token_hash(case_token))
        ):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "no such case for this token (a new one may take a moment)"
            )
        return row

    @api.get("/v1/requests/{case_id}", response_model=CaseView, tags=["requests"])
    def request_status(
        case_id: str, x_case_token: Annotated[str | None, Header()] = None
    ) -> dict[str, object]:
        """The requester's view, by case token (header `X-Case-Token`); no account needed."""
        return visible_case(case_id, x_case_token)

    @api.post("/v1/requests/{case_id}/cancel", response_model=CaseView, tags=["requests"])
    async def cancel_request(
        case_id: str, x_case_token: Annotated[str | None, Header()] = None
    ) -> dict[str, object]:
        """The requester withdraws the request (case token)."""
        row = visible_case(case_id, x_case_token)
        agency = str(row["agency"])
        for _ in range(5):
            history = await store().load(agency, "case", case_id)
            case = domain.fold([s.envelope.payload() for s in history.events])
            try:
                events = domain.cancel(case)
            except domain.Rejected as exc:
                raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
            envs = [Envelope.wrap(e, agency=agency, subject=case_id, source=SOURCE) for e in events]
            try:
                await store().append(envs, expected=history.version)
                return {**row, "status": "cancelled"}
            except ConcurrencyConflict:
                continue
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the case is busy; try again")

    @api.get("/v1/agencies/{agency}/cases", response_model=list[CaseView], tags=["coordination"])
    def agency_cases(
        agency: str,
        who: Principal = auth.require("coordinator", "regional_admin"),
        status_is: Annotated[
            Literal["requested", "assigned", "unmatched", "cancelled"] | None, Query(alias="status")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, object]]:
        """Cases of one agency, without content or identities."""
        check_agency(who, agency)
        with engine.connect() as conn:
            return projection.list_cases(conn, agency, status_is, limit)

    return api
