"""Members known to the vault: registration, the CAD roster, and erasure (crypto-shredding)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.ports import Ports
from services.intake.api.requests import SOURCE, AgencyId, Identity
from services.intake.vault import RosterConflict
from shared import decision
from shared.auth import Principal, check_agency
from shared.contracts.intake import MemberIdentityErased
from shared.decision import Aggregate
from shared.envelope import TOKEN, Envelope, new_id

CadId = Annotated[str, Field(min_length=1, max_length=128)]
MemberRef = Annotated[str, Path(pattern=TOKEN.pattern)]


class RegisterMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: AgencyId
    identity: Identity
    discipline: str | None = Field(default=None, max_length=64, description="a code; others → `other`")
    cad_ids: list[CadId] = Field(default=[], max_length=10, description="the member's ids in CAD")
    subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the member's sign-in subject: their own requests then carry this member_ref (kept "
        "only as a keyed hash)",
    )


class Registered(BaseModel):
    member_ref: str


class RosterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cad_id: CadId
    member_ref: Annotated[str, Field(pattern=TOKEN.pattern)]


class Roster(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[RosterEntry] = Field(min_length=1, max_length=1000)


class Mapped(BaseModel):
    mapped: int


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cad_ids: list[CadId] = Field(min_length=1, max_length=1000)


class Found(BaseModel):
    """Each CAD id asked about → its member_ref, or None where the roster has no such id."""

    members: dict[str, str | None]


class Erased(BaseModel):
    member_ref: str
    erased: bool = True


def add_routes(api: FastAPI, ports: Ports) -> None:
    auth = ports.auth

    @api.post("/v1/members", status_code=201, response_model=Registered, tags=["vault"])
    async def register_member(
        body: RegisterMember, who: Principal = auth.require("coordinator", "regional_admin")
    ) -> Registered:
        """Seal a member's identity in the vault; optionally map their CAD ids to the new member_ref."""
        check_agency(who, body.agency)
        identity = body.identity.given()
        if not identity:
            raise HTTPException(422, "identity: give at least one field")
        taken = await asyncio.to_thread(ports.vault.lookup, body.agency, body.cad_ids)
        if taken:
            named = ", ".join(f"cad_ids.{i}" for i, c in enumerate(body.cad_ids) if c in taken)
            raise HTTPException(status.HTTP_409_CONFLICT, f"{named}: already mapped to another member")
        member_ref = new_id("m")
        event = await asyncio.to_thread(
            ports.vault.register,
            body.agency,
            member_ref,
            identity,
            ports.codes.discipline(body.agency, body.discipline),
        )
        env = Envelope.wrap(event, agency=body.agency, subject=member_ref, source=SOURCE)
        await ports.store().append([env], expected=0)
        if body.cad_ids:
            pairs = [(c, member_ref) for c in body.cad_ids]
            await asyncio.to_thread(ports.vault.map_cad, body.agency, pairs)
        if body.subject:
            await asyncio.to_thread(ports.vault.link, body.agency, body.subject, member_ref)
        return Registered(member_ref=member_ref)

    @api.put("/v1/agencies/{agency}/roster", response_model=Mapped, tags=["vault"])
    async def map_roster(
        agency: str, body: Roster, who: Principal = auth.require("coordinator", "regional_admin")
    ) -> Mapped:
        """Map CAD crew / dispatcher ids to member_refs (the ids are kept only as keyed hashes)."""
        check_agency(who, agency)
        for i, e in enumerate(body.entries):
            if not await asyncio.to_thread(ports.vault.known_member, agency, e.member_ref):
                raise HTTPException(422, f"entries.{i}.member_ref: not a member of {agency}")
        pairs = [(e.cad_id, e.member_ref) for e in body.entries]
        try:
            return Mapped(mapped=await asyncio.to_thread(ports.vault.map_cad, agency, pairs))
        except RosterConflict as exc:
            named = ", ".join(f"entries.{i}.cad_id" for i in exc.positions)
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{named}: already mapped to another member (nothing was imported; a CAD id is never "
                "moved to another person)",
            ) from exc

    @api.post("/v1/agencies/{agency}/roster/lookup", response_model=Found, tags=["vault"])
    async def read_roster(
        agency: str, body: Lookup, who: Principal = auth.require("coordinator", "regional_admin")
    ) -> Found:
        """Read the roster back for these CAD ids (kept only as keyed hashes, so they are asked for)."""
        check_agency(who, agency)
        found = await asyncio.to_thread(ports.vault.lookup, agency, body.cad_ids)
        return Found(members={c: found.get(c) for c in body.cad_ids})

    @api.delete("/v1/members/{member_ref}/identity", response_model=Erased, tags=["vault"])
    async def erase_identity(
        member_ref: MemberRef, who: Principal = auth.require("regional_admin")
    ) -> Erased:
        """Destroy the member's data key (their sealed identity can never be opened again). Idempotent."""
        found = await asyncio.to_thread(ports.vault.agency_of, member_ref)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member in the vault")
        agency, _ = found
        check_agency(who, agency)
        await asyncio.to_thread(ports.vault.erase, member_ref, ports.clock.now())

        def erase(erased: bool) -> list[MemberIdentityErased]:
            return [] if erased else [MemberIdentityErased(by_role=who.role)]

        await decision.decide(
            ports.store(),
            Aggregate(agency, "member", member_ref),
            lambda history: any(s.envelope.event_name == "member_identity_erased" for s in history.events),
            erase,
            source=SOURCE,
            clock=ports.clock,
            command_id="erase",
        )
        return Erased(member_ref=member_ref)
