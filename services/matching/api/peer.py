"""A peer's own routes: the offers waiting for their answer, and what they publish to the members they
accept (display name, work channels). A peer acts only for themselves; a coordinator may list offers."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Path
from pydantic import BaseModel
from sqlalchemy import Engine

from services.matching import queries
from services.matching.profiles import Profile, Profiles
from shared.auth import Auth, Principal
from shared.envelope import TOKEN

Ref = Annotated[str, Path(pattern=TOKEN.pattern)]


class OpenOffer(BaseModel):
    case_id: str
    case_agency: str
    assignment_id: str
    offered_at: datetime
    respond_by: str | None


def add_routes(api: FastAPI, engine: Engine, auth: Auth, profiles: Profiles) -> None:
    base = "/v1/agencies/{agency}/peers/{peer_ref}"
    # A peer acts only for themselves (owner), in their own agency (the guard checks `{agency}`).
    peer = auth.require("peer", owner={"peer": "peer_ref"})
    peer_or_coordinator = auth.require("peer", "coordinator", "regional_admin", owner={"peer": "peer_ref"})

    @api.get(base + "/offers", response_model=list[OpenOffer], tags=["peer"])
    def offers(agency: Ref, peer_ref: Ref, who: Principal = peer_or_coordinator) -> list[dict[str, object]]:
        """Offers waiting for this peer's answer, oldest first; each expires at `respond_by`. Answer with
        `POST …/assignments/{case_id}/accept|decline` and `{"case_agency": …}`."""
        with engine.connect() as conn:
            return queries.offers_to(conn, peer_ref)

    @api.get(base + "/profile", response_model=Profile, tags=["peer"])
    async def get_profile(agency: Ref, peer_ref: Ref, who: Principal = peer) -> Profile:
        """What members who reach this peer see: display name and published work channels."""
        return await asyncio.to_thread(profiles.get, agency, peer_ref) or Profile()

    @api.put(base + "/profile", response_model=Profile, tags=["peer"])
    async def put_profile(agency: Ref, peer_ref: Ref, body: Profile, who: Principal = peer) -> Profile:
        """Replace the profile. Kept sealed in matching's store, never in the log."""
        await asyncio.to_thread(profiles.put, agency, peer_ref, body)
        return body
