"""Notify's HTTP API (thin): each person manages their own contact points and quiet hours; coordinators
manage who is on call; the console reads the Web Push key.

A person is their token's (agency, sub): a peer's sub is their peer_ref, a responder's their member_ref.
Contact points are sealed before they are stored and are never written to the log or a log line.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Query, status
from sqlalchemy import Connection, Engine

from services.notify import queries as people
from services.notify.api.models import Contact, ContactView, Preferences, Schedule, Shift, TierRole, summary
from services.notify.sealing import Sealer
from shared.auth import Auth, Principal, check_agency
from shared.clock import Clock
from shared.envelope import TOKEN
from shared.httpapi import service_api
from shared.limits import HttpLimits

T = TypeVar("T")


def build_api(
    engine: Engine,
    sealer: Sealer,
    auth: Auth,
    clock: Clock,
    channels: tuple[str, ...],
    push_key: Callable[[], str],
    changed: Callable[[], None],
    limits: HttpLimits | None = None,
) -> FastAPI:
    api = service_api(
        "Peerline notify", "Notifications: contact points, on call, Web Push key.", auth, limits
    )
    anyone = auth.require("member", "peer", "coordinator", "clinician", "leader", "regional_admin")
    coordinator = auth.require("coordinator", "regional_admin")

    async def read(fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with engine.begin() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    async def write(fn: Callable[[Connection], T]) -> T:
        result = await read(fn)
        changed()  # a new reachability may need announcing
        return result

    @api.get("/v1/me/contacts", response_model=list[ContactView], tags=["contacts"])
    async def my_contacts(who: Principal = anyone) -> list[ContactView]:
        def listed(conn: Connection) -> list[ContactView]:
            rows = people.contacts_of(conn, who.agency, who.sub)
            return [summary(r, sealer.open(r.contact_id, r.sealed), r.channel in channels) for r in rows]

        return await read(listed)

    @api.post("/v1/me/contacts", status_code=201, response_model=ContactView, tags=["contacts"])
    async def add_contact(body: Contact, who: Principal = anyone) -> ContactView:
        contact_id = "cp-" + uuid.uuid4().hex
        value = body.sealed_value()

        def add(conn: Connection) -> ContactView:
            people.save_person(conn, who.agency, who.sub, who.role)
            people.add_contact(
                conn, sealer, contact_id, who.agency, who.sub, body.channel, value, clock.now()
            )
            people.refresh_reach(conn, who.agency, who.sub, channels)
            row = people.contacts_of(conn, who.agency, who.sub)
            mine = next(r for r in row if r.contact_id == contact_id)
            return summary(mine, value, body.channel in channels)

        return await write(add)

    @api.delete("/v1/me/contacts/{contact_id}", status_code=204, tags=["contacts"])
    async def remove_contact(contact_id: str, who: Principal = anyone) -> None:
        def remove(conn: Connection) -> bool:
            gone = people.remove_contact(conn, who.agency, who.sub, contact_id)
            people.refresh_reach(conn, who.agency, who.sub, channels)
            return gone

        if not await write(remove):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "contact_id: no such contact point of yours")

    @api.get("/v1/me/preferences", response_model=Preferences, tags=["contacts"])
    async def my_preferences(who: Principal = anyone) -> Preferences:
        found = await read(lambda conn: people.prefs(conn, who.agency, who.sub))
        return Preferences.of(found)

    @api.put("/v1/me/preferences", response_model=Preferences, tags=["contacts"])
    async def set_preferences(body: Preferences, who: Principal = anyone) -> Preferences:
        await write(lambda conn: people.save_person(conn, who.agency, who.sub, who.role, **body.columns()))
        return body

    @api.get(
        "/v1/push/key",
        tags=["push"],
        dependencies=[auth.open("the Web Push application server key is public by design")],
    )
    def push_key_route() -> dict[str, str]:
        """The VAPID application server key the console subscribes with."""
        return {"application_server_key": push_key()}

    base = "/v1/agencies/{agency}/oncall/{role}"

    @api.put(base, response_model=Schedule, tags=["on call"])
    async def set_schedule(
        agency: str, role: TierRole, body: Schedule, who: Principal = coordinator
    ) -> Schedule:
        check_agency(who, agency)
        shifts = [(s.ref, s.starts_at.astimezone(UTC), s.ends_at.astimezone(UTC)) for s in body.shifts]
        await write(lambda conn: people.set_schedule(conn, agency, role, shifts))
        return body

    @api.get(base, response_model=Schedule, tags=["on call"])
    async def get_schedule(agency: str, role: TierRole, who: Principal = coordinator) -> Schedule:
        check_agency(who, agency)
        rows = await read(lambda conn: people.schedule(conn, agency, role))
        return Schedule(
            shifts=[Shift(ref=r.ref, starts_at=_utc(r.starts_at), ends_at=_utc(r.ends_at)) for r in rows]
        )

    @api.get("/v1/agencies/{agency}/reachability", tags=["on call"])
    async def reachability(
        agency: str,
        peer_ref: list[str] = Query(max_length=200, description="the peers to ask about"),
        who: Principal = coordinator,
    ) -> dict[str, Any]:
        """Which peers have a working channel (an offer to one without cannot reach them)."""
        check_agency(who, agency)
        bad = [i for i, ref in enumerate(peer_ref) if not TOKEN.match(ref)]
        if bad:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"peer_ref[{bad[0]}]: not a peer_ref")
        found = await read(lambda conn: people.reachable(conn, agency, peer_ref, channels))
        return {"reachable": found}

    return api


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
