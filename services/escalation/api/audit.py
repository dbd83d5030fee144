"""The audit trail over HTTP: an escalation's records (its steps and the disclosures made under it) and
the trail's verification, for the clinicians who act on it. Never an identity: records hold codes only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from nats.aio.client import Client
from pydantic import BaseModel
from sqlalchemy import Engine

from services.escalation.api import AgencyId, EscalationId
from services.escalation.projection import audit
from services.escalation.projection.verify import verify_recent
from services.escalation.tables import chain_table
from shared.auth import Auth, Principal, check_agency


class Record(BaseModel):
    position: int
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]
    hash: str


class Verification(BaseModel):
    ok: bool
    records: int
    checked_up_to_seq: int
    compared_with_log: int
    problems: list[str]


def add_routes(api: FastAPI, engine: Engine, auth: Auth, nc: Callable[[], Client], last: int = 100) -> None:
    readers = auth.require("clinician", "coordinator", "regional_admin")

    @api.get(
        "/v1/agencies/{agency}/escalations/{escalation_id}/audit",
        response_model=list[Record],
        tags=["audit"],
    )
    def records(
        agency: AgencyId, escalation_id: EscalationId, who: Principal = readers
    ) -> list[dict[str, Any]]:
        """The escalation's records in the hash-chained trail, oldest first."""
        check_agency(who, agency)
        with engine.connect() as conn:
            return audit.records_of(conn, chain_table, agency, escalation_id)

    @api.get("/v1/agencies/{agency}/audit/verification", response_model=Verification, tags=["audit"])
    async def verification(agency: AgencyId, who: Principal = readers) -> Verification:
        """Every link of the trail checked, and its latest records compared with the log itself."""
        check_agency(who, agency)
        verdict = await verify_recent(nc().jetstream(), engine, last)
        return Verification(
            ok=verdict.ok,
            records=verdict.records,
            checked_up_to_seq=verdict.checked_up_to_seq,
            compared_with_log=min(verdict.records, last),
            problems=verdict.problems[:50],
        )
