"""Wellness's HTTP API (thin). Who is who: a peer's token carries `sub` = their peer_ref, a member's
token carries `sub` = their member_ref (the identity provider maps each account to its pseudonym).
Exposure counts go to the responder and the peer team (peers, coordinator) — never to leadership roles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from services.wellness import domain, queries
from services.wellness.commands import Writer
from services.wellness.domain.policy import AgencyPolicy, Policies
from services.wellness.reactions import fold_debrief, fold_followup, fold_peer
from shared.auth import Auth, Principal, Role, check_agency
from shared.clock import Clock
from shared.eventstore import History
from shared.fields import UtcTime
from shared.httpapi import service_api
from shared.limits import HttpLimits


class BreakRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: UtcTime | None = Field(
        default=None, description="when the break ends by itself (optional; ISO time with its offset)"
    )


class LoadView(BaseModel):
    peer_ref: str
    status: str
    reasons: list[str]
    active_cases: int
    contacts_7d: int
    personal_incidents: int
    thresholds: dict[str, int]
    cool_down_until: datetime | None
    break_until: datetime | None


class OfferView(BaseModel):
    offer_id: str
    incident_id: str
    role: str
    offer_type: str
    window_opens: str
    window_closes: str
    status: str


class FollowupView(BaseModel):
    followup_id: str
    case_id: str
    peer_ref: str
    n: int
    due_at: datetime
    status: str


class UptakeView(BaseModel):
    incident_id: str
    offered: int
    accepted: int
    declined: int


class ExposureView(BaseModel):
    member_ref: str
    incidents_in_window: int
    window_days: int
    threshold: int
    checkins_offered: int


OWN_PEER: dict[Role, str] = {"peer": "peer_ref"}  # a peer sees and changes only their own state


def build_api(
    writer: Writer,
    engine: Engine,
    auth: Auth,
    policies: Policies,
    clock: Clock,
    limits: HttpLimits | None = None,
) -> FastAPI:
    api = service_api("Peerline wellness", "Peer load, follow-ups, debrief offers.", auth, limits)

    def read(fn: Callable[..., Any], *args: Any) -> Any:
        with engine.connect() as conn:
            return fn(conn, *args)

    async def run(
        agency: str, aggregate: str, aggregate_id: str, decide: Callable[[History], list[Any]]
    ) -> None:
        try:
            await writer.decide(agency, aggregate, aggregate_id, decide)
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc

    def own_peer(who: Principal, agency: str, peer_ref: str) -> dict[str, Any]:
        check_agency(who, agency)  # and the route's guard: a peer sees and changes only their own state
        row = read(queries.peer, peer_ref)
        if row is None or row["agency"] != agency:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such peer in this agency")
        return row

    @api.get("/healthz", tags=["ops"], dependencies=[Auth.open("a liveness probe: says nothing")])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/v1/agencies/{agency}/thresholds", response_model=AgencyPolicy, tags=["configuration"])
    def thresholds(
        agency: str, who: Principal = auth.require("coordinator", "regional_admin")
    ) -> AgencyPolicy:
        """The agency's peer-load thresholds, follow-up timing, debrief rules and exposure check-in, as
        configured (`PEERLINE_POLICY_FILE`): read back, not changed, here."""
        check_agency(who, agency)
        return policies.of(agency)

    @api.get("/v1/agencies/{agency}/peers/{peer_ref}/load", response_model=LoadView, tags=["peers"])
    async def peer_load(
        agency: str, peer_ref: str, who: Principal = auth.require("peer", "coordinator", owner=OWN_PEER)
    ) -> LoadView:
        """Why a peer is available, overloaded or on a break: counts, thresholds, cool-down."""
        own_peer(who, agency, peer_ref)
        rows = await asyncio.to_thread(read, queries.peer_loads, clock.now(), policies, peer_ref)
        row, load = rows[0]
        policy = policies.of(agency)
        why = domain.explain(queries.peer_state(row), load, policy)
        return LoadView(
            peer_ref=peer_ref,
            status=why.status,
            reasons=why.reasons,
            active_cases=load.active_cases,
            contacts_7d=load.contacts_7d,
            personal_incidents=load.personal_incidents,
            thresholds={
                "active_cases": policy.max_active_cases,
                "contacts_7d": policy.max_contacts_7d,
                "personal_incidents": policy.max_personal_incidents,
            },
            cool_down_until=why.cool_down_until,
            break_until=why.break_until,
        )

    @api.post("/v1/agencies/{agency}/peers/{peer_ref}/break", status_code=202, tags=["peers"])
    async def request_break(
        agency: str, peer_ref: str, body: BreakRequest, who: Principal = auth.require("peer", owner=OWN_PEER)
    ) -> dict[str, str]:
        """The peer takes a break, at any time, for as long as they need (or until `until`)."""
        own_peer(who, agency, peer_ref)
        now = clock.now()
        await run(agency, "peer", peer_ref, lambda h: domain.request_break(fold_peer(h), body.until, now))
        return {"status": "on_break"}

    @api.post("/v1/agencies/{agency}/peers/{peer_ref}/break/end", status_code=202, tags=["peers"])
    async def end_break(
        agency: str, peer_ref: str, who: Principal = auth.require("peer", owner=OWN_PEER)
    ) -> dict[str, str]:
        own_peer(who, agency, peer_ref)
        await run(agency, "peer", peer_ref, lambda h: domain.end_break(fold_peer(h)))
        return {"status": "break_ended"}

    @api.get("/v1/agencies/{agency}/offers/mine", response_model=list[OfferView], tags=["offers"])
    async def my_offers(agency: str, who: Principal = auth.require("member")) -> list[dict[str, Any]]:
        """The member's own debrief offers (their token's sub is their member_ref)."""
        check_agency(who, agency)
        return await asyncio.to_thread(read, queries.member_offers, agency, who.sub)

    async def answer(agency: str, offer_id: str, who: Principal, accept: bool) -> dict[str, str]:
        check_agency(who, agency)
        row = await asyncio.to_thread(read, queries.offer, offer_id)
        if row is None or row["agency"] != agency or row["member_ref"] != who.sub:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such offer for you")
        now = clock.now()
        await run(
            agency,
            "debrief",
            offer_id,
            lambda h: domain.answer_debrief(fold_debrief(h), who.sub, accept, now),
        )
        return {"status": "accepted" if accept else "declined"}

    @api.post("/v1/agencies/{agency}/offers/{offer_id}/accept", status_code=202, tags=["offers"])
    async def accept_offer(
        agency: str, offer_id: str, who: Principal = auth.require("member")
    ) -> dict[str, str]:
        return await answer(agency, offer_id, who, accept=True)

    @api.post("/v1/agencies/{agency}/offers/{offer_id}/decline", status_code=202, tags=["offers"])
    async def decline_offer(
        agency: str, offer_id: str, who: Principal = auth.require("member")
    ) -> dict[str, str]:
        return await answer(agency, offer_id, who, accept=False)

    @api.get("/v1/agencies/{agency}/followups/mine", response_model=list[FollowupView], tags=["followups"])
    async def my_followups(agency: str, who: Principal = auth.require("peer")) -> list[dict[str, Any]]:
        check_agency(who, agency)
        return await asyncio.to_thread(read, lambda c: queries.followups_of(c, agency, peer_ref=who.sub))

    @api.post("/v1/agencies/{agency}/followups/{followup_id}/complete", status_code=202, tags=["followups"])
    async def complete_followup(
        agency: str, followup_id: str, who: Principal = auth.require("peer")
    ) -> dict[str, str]:
        """The assigned peer reports the follow-up done."""
        check_agency(who, agency)
        row = await asyncio.to_thread(read, queries.followup, followup_id)
        if row is None or row["agency"] != agency or row["peer_ref"] != who.sub:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such follow-up of yours")
        await run(
            agency, "followup", followup_id, lambda h: domain.complete_followup(fold_followup(h), who.sub)
        )
        return {"status": "completed"}

    @api.get("/v1/agencies/{agency}/followups/overdue", response_model=list[FollowupView], tags=["followups"])
    async def overdue_followups(
        agency: str, who: Principal = auth.require("coordinator")
    ) -> list[dict[str, Any]]:
        """Follow-ups of the agency not completed within the grace period."""
        check_agency(who, agency)
        return await asyncio.to_thread(read, lambda c: queries.followups_of(c, agency, status="overdue"))

    @api.get("/v1/agencies/{agency}/incidents/uptake", response_model=list[UptakeView], tags=["offers"])
    async def incident_uptake(
        agency: str, who: Principal = auth.require("coordinator")
    ) -> list[dict[str, Any]]:
        """Critical incidents with the agency's debrief offers made, accepted and declined (counts only)."""
        check_agency(who, agency)
        return await asyncio.to_thread(read, queries.incident_uptake, agency)

    @api.get(
        "/v1/agencies/{agency}/members/{member_ref}/exposure", response_model=ExposureView, tags=["exposure"]
    )
    async def exposure(
        agency: str,
        member_ref: str,
        who: Principal = auth.require("member", "peer", "coordinator", owner={"member": "member_ref"}),
    ) -> ExposureView:
        """A responder's critical incidents in the agency's window: for them and the peer team only."""
        check_agency(who, agency)
        policy = policies.of(agency)
        count = await asyncio.to_thread(
            read, queries.exposure_count, agency, member_ref, clock.now(), policy.exposure_window
        )
        checkins = await asyncio.to_thread(read, queries.exposure_checkins, agency, member_ref)
        return ExposureView(
            member_ref=member_ref,
            incidents_in_window=count,
            window_days=policy.exposure_window.days,
            threshold=policy.exposure_threshold,
            checkins_offered=len(checkins),
        )

    return api
