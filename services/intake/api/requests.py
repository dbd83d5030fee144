"""Requests for support: create (any activation, anonymous or not), follow and cancel by case token."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Header, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain, queries
from services.intake.api.ports import Ports
from services.intake.domain.policy import Advisement
from shared import decision
from shared.auth import ROLES, Principal, check_agency
from shared.contracts.intake import Activation, AgencyScope, Preferences
from shared.decision import Aggregate, payloads
from shared.envelope import TOKEN, Envelope, new_id
from shared.fields import Id, Language
from shared.groupcommit import GroupCommit

SOURCE = "peerline/intake"
AgencyId = Annotated[str, Field(pattern=TOKEN.pattern, description="agency id, e.g. `cfd`")]
Ref = Annotated[str, Field(pattern=TOKEN.pattern)]


class Identity(BaseModel):
    """Sealed by the vault at once; only ciphertext reaches the log. Every field is optional."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ().-]{5,32}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,24}$")
    employee_id: str | None = Field(default=None, min_length=1, max_length=64)

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


Coded = Annotated[str, Field(max_length=64, description="a code of the agency's list; others → `other`")]


class AskedPreferences(BaseModel):
    """What the requester asks for in a peer: codes and ids only."""

    model_config = ConfigDict(extra="forbid")

    agency_scope: AgencyScope = "own"
    peer_ref: Id | None = Field(default=None, description="a specific peer")
    language: Language | None = Field(default=None, description="a BCP 47 tag, e.g. `es` or `es-419`")
    peer_discipline: Coded | None = None


class CreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: AgencyId
    activation: Activation
    discipline: Coded | None = None
    unit: Coded | None = Field(default=None, description="coded unit/station")
    preferences: AskedPreferences = AskedPreferences()
    contact_preference: domain.ContactPreference = "any"
    identity: Identity | None = Field(default=None, description="omit to stay anonymous (self-referral)")
    incident_ref: Ref | None = Field(default=None, description="the critical incident, for post_incident")
    supervisor_refs: list[Ref] = Field(default=[], max_length=10)


class Created(BaseModel):
    case_id: str
    case_token: str | None = Field(
        description="keep it: the only way to follow the request without an account. A referrer gets none."
    )
    status: domain.Status
    anonymous: bool
    advisement: Advisement


class CaseView(BaseModel):
    case_id: str
    activation: str
    status: str
    requested_at: datetime
    updated_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_routes(api: FastAPI, ports: Ports) -> None:
    auth = ports.auth
    log = GroupCommit(ports.store)  # concurrent requests share one durable write

    @api.get("/v1/agencies/{agency}/advisement", response_model=Advisement, tags=["requests"])
    def advisement(agency: str, who: Principal = auth.require(*ROLES)) -> Advisement:
        """What confidentiality means here — anonymity, confidentiality, privilege — and its limits."""
        check_agency(who, agency)
        return ports.policies.of(agency).advisement

    @api.post("/v1/requests", status_code=status.HTTP_201_CREATED, response_model=Created, tags=["requests"])
    async def create_request(
        body: CreateRequest, who: Principal = auth.require("member", "peer", "coordinator")
    ) -> Created:
        check_agency(who, body.agency)
        identity = body.identity.given() if body.identity else {}
        case_id, member_ref, token = new_id("c"), new_id("m"), secrets.token_urlsafe(32)
        keeps = domain.requester_keeps_token(body.activation)
        if keeps:  # the requester is the member: the same person, the same member_ref, every time
            # On the loop: a few indexed reads cost less than a thread hand-over on a busy machine.
            member_ref = ports.vault.member_of(body.agency, who.sub, member_ref)
        codes, asked = ports.codes, body.preferences
        discipline = codes.discipline(body.agency, body.discipline)
        cmd = domain.RequestSupport(
            activation=body.activation,
            discipline=discipline,
            preferences=Preferences(
                agency_scope=asked.agency_scope,
                peer_ref=asked.peer_ref,
                language=asked.language,
                peer_discipline=codes.discipline(body.agency, asked.peer_discipline),
            ),
            unit=codes.unit(body.agency, body.unit),
            contact_preference=body.contact_preference,
            identity_fields=frozenset(identity),
            incident_ref=body.incident_ref,
            supervisor_refs=tuple(body.supervisor_refs),
        )
        try:
            events = domain.request_support(
                domain.Case(), cmd, member_ref=member_ref, token_hash=token_hash(token)
            )
        except domain.Rejected as exc:
            raise HTTPException(422, str(exc)) from exc
        # Everything is checked and encoded before the first write: a failure below is the log's, never
        # the input's (no identity sealed for a request that is then refused).
        envs = [Envelope.wrap(e, agency=body.agency, subject=case_id, source=SOURCE) for e in events]
        for env in envs:
            env.to_bytes()
        if identity and not await asyncio.to_thread(ports.vault.registered, member_ref):
            registered = await asyncio.to_thread(
                ports.vault.register, body.agency, member_ref, identity, discipline
            )
            env = Envelope.wrap(registered, agency=body.agency, subject=member_ref, source=SOURCE)
            await log.append([env], expected=0)
        await log.append(envs, expected=0)
        if not keeps:
            await asyncio.to_thread(
                ports.vault.record_referral, case_id, body.agency, who.sub, who.role, ports.clock.now()
            )
        return Created(
            case_id=case_id,
            case_token=token if keeps else None,
            status="requested",
            anonymous=not identity,
            advisement=ports.policies.of(body.agency).advisement,
        )

    def visible_case(case_id: str, case_token: str | None) -> dict[str, object]:
        with ports.engine.connect() as conn:
            row = queries.find(conn, case_id)
        if (
            row is None
            or case_token is None
            or not hmac.compare_digest(str(row["token_hash"]), token_hash(case_token))
        ):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "no such case for this token (a new one may take a moment)"
            )
        return row

    by_case_token = [auth.open("the requester, by the case token only they hold (no account needed)")]

    @api.post(
        "/v1/requests/{case_id}/cancel",
        response_model=CaseView,
        tags=["requests"],
        dependencies=by_case_token,
    )
    async def cancel_request(
        case_id: str, x_case_token: Annotated[str | None, Header()] = None
    ) -> dict[str, object]:
        """The requester withdraws the request (case token)."""
        row = visible_case(case_id, x_case_token)
        agency = str(row["agency"])
        try:
            await decision.decide(
                ports.store(),
                Aggregate(agency, "case", case_id),
                lambda history: domain.fold(payloads(history)),
                domain.cancel,
                source=SOURCE,
            )
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return {**row, "status": "cancelled"}

    @api.get("/v1/agencies/{agency}/cases", response_model=list[CaseView], tags=["coordination"])
    def agency_cases(
        agency: str,
        who: Principal = auth.require("coordinator", "regional_admin"),
        status_is: Annotated[
            Literal["requested", "offered", "accepted", "unmatched", "cancelled", "closed"] | None,
            Query(alias="status"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, object]]:
        """Cases of one agency, without content or identities."""
        check_agency(who, agency)
        with ports.engine.connect() as conn:
            return queries.list_cases(conn, agency, status_is, limit)
