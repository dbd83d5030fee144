"""Matching's HTTP API (thin): coordinators manage their agency's peer directory and see why a case was
matched as it was; peers keep their own availability and answer offers. Agency-scoped throughout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from services.matching import domain
from services.matching import queries as views
from services.matching.commands.assigner import Assigner
from services.matching.commands.directory import Directory
from services.matching.domain import peers as rules
from services.matching.domain.peers import Peer
from shared.auth import Auth, Principal, check_agency
from shared.codes import CodeLists
from shared.contracts.base import Event
from shared.contracts.intake import Discipline
from shared.contracts.matching import (
    AvailabilityWindow,
    ConfidentialityAcknowledged,
    DeclineReason,
    PeerActivated,
    PeerApplied,
    PeerAvailabilityChanged,
    PeerAvailabilityConfirmed,
    PeerAvailabilityWindowsSet,
    PeerDeselected,
    PeerEnrolled,
    PeerSelected,
    PeerTrainingRecorded,
)
from shared.envelope import TOKEN, new_id
from shared.fields import Id, Language, TimeZone, UtcTime
from shared.httpapi import service_api
from shared.limits import HttpLimits

Ref = Annotated[str, Path(pattern=TOKEN.pattern, max_length=64)]
Code = Id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewPeer(Strict):
    discipline: Discipline
    unit: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="a unit code of the agency's list; others → `other`"
    )
    languages: tuple[Language, ...] = Field(default=("en",), min_length=1, max_length=8)
    member_ref: Code | None = Field(default=None, description="the peer's own member pseudonym")
    supervisor_refs: tuple[Code, ...] = Field(
        default=(), max_length=32, description="member_refs of their chain of command"
    )
    enrolled: bool = Field(default=False, description="already selected and trained: joins as active")


class Training(Strict):
    course: Code
    completed_on: date
    expires_on: date | None = Field(default=None, description="when the certification lapses")


class Mentor(Strict):
    mentor_ref: Code


class Deselection(Strict):
    reason: Literal["program_decision", "confidentiality_breach", "left_agency", "own_request"]


class Acknowledgement(Strict):
    policy_version: Code


class Availability(Strict):
    available: bool
    reason: Literal["duty", "break"] = "duty"
    until: UtcTime | None = Field(default=None, description="ISO time with its offset (stored in UTC)")


class Windows(Strict):
    windows: tuple[AvailabilityWindow, ...] = Field(default=(), max_length=64)
    tz: TimeZone = Field(default="UTC", description="a zoneinfo name, e.g. America/Chicago")


class Assignment(Strict):
    peer_ref: Code


class Answer(Strict):
    case_agency: Code


class Decline(Answer):
    reason: DeclineReason | None = Field(default=None, description="why, as a code (never free text)")


def build_api(
    directory: Directory,
    assigner: Assigner,
    engine: Engine,
    auth: Auth,
    limits: HttpLimits | None = None,
    codes: CodeLists | None = None,
) -> FastAPI:
    codes = codes or CodeLists()
    api = service_api("Peerline matching", "Peer directory and assignments.", auth, limits)
    coordinator = auth.require("coordinator", "regional_admin")
    # a peer acts only for themselves: the guard checks the path's peer_ref is their own
    peer_or_coordinator = auth.require("peer", "coordinator", "regional_admin", owner={"peer": "peer_ref"})

    async def run(
        agency: str, peer_ref: str, command: Callable[[Peer], list[Event]], creating: bool = False
    ) -> dict[str, Any]:
        def checked(peer: Peer) -> list[Event]:
            if peer.stage == "new" and not creating:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such peer")
            return command(peer)

        try:
            peer, _ = await directory.execute(agency, peer_ref, checked)
        except rules.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return views.card(peer)

    def step(event: Event) -> Callable[[Peer], list[Event]]:
        return lambda peer: rules.decide(peer, event)

    @api.get("/healthz", tags=["ops"], dependencies=[Auth.open("a liveness probe: says nothing")])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    base = "/v1/agencies/{agency}/peers"

    @api.post(base, status_code=status.HTTP_201_CREATED, tags=["directory"])
    async def add_peer(agency: Ref, body: NewPeer, who: Principal = coordinator) -> dict[str, Any]:
        """An application to the peer team (or, with `enrolled`, a trained peer joining as active)."""
        check_agency(who, agency)
        fields = body.model_dump(exclude={"enrolled"})
        fields["unit"] = codes.unit(agency, body.unit)
        event = PeerEnrolled(**fields) if body.enrolled else PeerApplied(**fields)
        return await run(agency, new_id("p"), step(event), creating=True)

    @api.get(base, tags=["directory"])
    def list_peers(
        agency: Ref,
        who: Principal = coordinator,
        stage: Annotated[str | None, Query(pattern=TOKEN.pattern)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        check_agency(who, agency)
        with engine.connect() as conn:
            return views.directory(conn, agency, stage, limit)

    @api.get(base + "/{peer_ref}", tags=["directory"])
    def get_peer(agency: Ref, peer_ref: Ref, who: Principal = peer_or_coordinator) -> dict[str, Any]:
        check_agency(who, agency)
        with engine.connect() as conn:
            found = views.peer(conn, peer_ref)
        if found is None or found.agency != agency:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such peer (a new one may take a moment)")
        return views.card(found)

    @api.post(base + "/{peer_ref}/selection", tags=["directory"])
    async def select(agency: Ref, peer_ref: Ref, who: Principal = coordinator) -> dict[str, Any]:
        check_agency(who, agency)
        return await run(agency, peer_ref, step(PeerSelected()))

    @api.post(base + "/{peer_ref}/trainings", tags=["directory"])
    async def training(
        agency: Ref, peer_ref: Ref, body: Training, who: Principal = coordinator
    ) -> dict[str, Any]:
        check_agency(who, agency)
        if body.expires_on is not None and body.expires_on <= body.completed_on:
            raise HTTPException(422, "expires_on: must be after completed_on")
        expires = body.expires_on.isoformat() if body.expires_on else None
        event = PeerTrainingRecorded(
            course=body.course, completed_on=body.completed_on.isoformat(), expires_on=expires
        )
        return await run(agency, peer_ref, step(event))

    @api.post(base + "/{peer_ref}/activation", tags=["directory"])
    async def activate(agency: Ref, peer_ref: Ref, who: Principal = coordinator) -> dict[str, Any]:
        check_agency(who, agency)
        return await run(agency, peer_ref, step(PeerActivated()))

    @api.post(base + "/{peer_ref}/mentor", tags=["directory"])
    async def mentor(
        agency: Ref, peer_ref: Ref, body: Mentor, who: Principal = coordinator
    ) -> dict[str, Any]:
        check_agency(who, agency)
        with engine.connect() as conn:
            found = views.peer(conn, body.mentor_ref)
        if found is not None and found.agency != agency:
            found = None
        return await run(agency, peer_ref, lambda peer: rules.pair_mentor(peer, found))

    @api.post(base + "/{peer_ref}/deselection", tags=["directory"])
    async def deselect(
        agency: Ref, peer_ref: Ref, body: Deselection, who: Principal = coordinator
    ) -> dict[str, Any]:
        check_agency(who, agency)
        return await run(agency, peer_ref, step(PeerDeselected(reason=body.reason)))

    @api.post(base + "/{peer_ref}/acknowledgement", tags=["peer"])
    async def acknowledge(
        agency: Ref, peer_ref: Ref, body: Acknowledgement, who: Principal = peer_or_coordinator
    ) -> dict[str, Any]:
        check_agency(who, agency)
        return await run(
            agency, peer_ref, step(ConfidentialityAcknowledged(policy_version=body.policy_version))
        )

    @api.put(base + "/{peer_ref}/availability", tags=["peer"])
    async def availability(
        agency: Ref, peer_ref: Ref, body: Availability, who: Principal = peer_or_coordinator
    ) -> dict[str, Any]:
        """On/off duty, or a self-declared break (`reason: break`, optionally `until`)."""
        check_agency(who, agency)
        until = body.until.isoformat() if body.until else None
        event = PeerAvailabilityChanged(available=body.available, reason=body.reason, until=until)
        return await run(agency, peer_ref, step(event))

    @api.put(base + "/{peer_ref}/windows", tags=["peer"])
    async def windows(
        agency: Ref, peer_ref: Ref, body: Windows, who: Principal = peer_or_coordinator
    ) -> dict[str, Any]:
        check_agency(who, agency)
        return await run(agency, peer_ref, step(PeerAvailabilityWindowsSet(windows=body.windows, tz=body.tz)))

    @api.post(base + "/{peer_ref}/confirmation", tags=["peer"])
    async def confirm(agency: Ref, peer_ref: Ref, who: Principal = peer_or_coordinator) -> dict[str, Any]:
        """The periodic re-confirmation that keeps a peer in matching."""
        check_agency(who, agency)
        return await run(agency, peer_ref, step(PeerAvailabilityConfirmed()))

    async def answer(
        who: Principal, agency: str, peer_ref: str, case_id: str, body: Answer, decide: domain.Decide
    ) -> dict[str, Any]:
        check_agency(who, agency)
        try:
            events = await assigner.decide(body.case_agency, case_id, decide)
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return {"case_id": case_id, "events": [e.name for e in events]}

    def offered_to(peer_ref: str, agency: str) -> Callable[[domain.Case], None]:
        def check(case: domain.Case) -> None:
            if case.offer is None or case.offer.peer_agency != agency:
                raise domain.Rejected("the case has no open assignment for this peer")

        return check

    @api.post(base + "/{peer_ref}/assignments/{case_id}/accept", tags=["peer"])
    async def accept(
        agency: Ref, peer_ref: Ref, case_id: Ref, body: Answer, who: Principal = peer_or_coordinator
    ) -> dict[str, Any]:
        check = offered_to(peer_ref, agency)

        def decide(case: domain.Case, _peers: list[Peer], _ctx: domain.Context) -> list[Event]:
            check(case)
            return domain.accept(case, peer_ref)

        return await answer(who, agency, peer_ref, case_id, body, decide)

    @api.post(base + "/{peer_ref}/assignments/{case_id}/decline", tags=["peer"])
    async def decline(
        agency: Ref, peer_ref: Ref, case_id: Ref, body: Decline, who: Principal = peer_or_coordinator
    ) -> dict[str, Any]:
        """The next best peer is offered the case at once (or the coordinator is alerted)."""
        check = offered_to(peer_ref, agency)

        def decide(case: domain.Case, peers: list[Peer], ctx: domain.Context) -> list[Event]:
            check(case)
            return domain.decline(case, peer_ref, peers, ctx, body.reason)

        return await answer(who, agency, peer_ref, case_id, body, decide)

    @api.get("/v1/agencies/{agency}/cases/{case_id}/explanation", tags=["coordination"])
    def explanation(agency: Ref, case_id: Ref, who: Principal = coordinator) -> dict[str, Any]:
        """Every matching decision on the case: why this peer, why each other peer was not chosen."""
        check_agency(who, agency)
        with engine.connect() as conn:
            case_agency, found = views.explanations(conn, case_id)
        if case_agency != agency:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no decision on this case yet")
        return {"case_id": case_id, "decisions": found}

    @api.post("/v1/agencies/{agency}/cases/{case_id}/rematch", tags=["coordination"])
    async def rematch(agency: Ref, case_id: Ref, who: Principal = coordinator) -> dict[str, Any]:
        """Try again on an unmatched case (e.g. after bringing a peer on duty)."""
        check_agency(who, agency)
        try:
            events = await assigner.decide(agency, case_id, domain.rematch)
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return {"case_id": case_id, "events": [e.name for e in events]}

    @api.post("/v1/agencies/{agency}/cases/{case_id}/assignment", tags=["coordination"])
    async def assign_to(
        agency: Ref, case_id: Ref, body: Assignment, who: Principal = coordinator
    ) -> dict[str, Any]:
        """Give the case to a named peer; a case already with a peer is handed on from them first."""
        check_agency(who, agency)

        def decide(case: domain.Case, peers: list[Peer], ctx: domain.Context) -> list[Event]:
            return domain.assign_to(case, body.peer_ref, peers, ctx)

        try:
            events = await assigner.decide(agency, case_id, decide)
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        if not events:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case in this agency")
        return {"case_id": case_id, "events": [e.name for e in events]}

    return api
