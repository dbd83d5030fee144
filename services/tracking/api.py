"""Tracking's HTTP API (thin): contact reports by the assigned peer, case closing, the coordinator
audit timeline, and suppressed leadership reports (JSON or CSV).

Peer identity convention: a peer's token carries their `peer_ref` as `sub` (the pseudonym matching
assigns, never a name). A contact report is accepted only when the case's current assignment names
that `peer_ref` AND the token's agency as the peer's agency — decided on the freshly loaded case
aggregate, so this check is stricter than `check_agency` (a regional-pool peer from another agency
reports on the case they were assigned, and nobody else does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from services.tracking import domain, queries
from services.tracking.queries import publication, reports
from services.tracking.settings import TrackingSettings
from shared import decision
from shared.auth import Auth, Principal, check_agency
from shared.clock import Clock
from shared.contracts.tracking import Category, ContactMode, DurationBucket, Referral
from shared.decision import Aggregate, payloads
from shared.envelope import TOKEN, Envelope
from shared.eventstore import EventStore
from shared.httpapi import service_api

SOURCE = "peerline/tracking"
Week = Annotated[str, Field(pattern=domain.WEEK.pattern, description="ISO week, e.g. 2026-W48")]
By = Annotated[
    str | None,
    Query(description="the report's dimension; by default its first (e.g. `bucket` for response_times)"),
]
Quarter = Annotated[
    str,
    Field(
        pattern=publication.QUARTER.pattern,
        description="e.g. 2026-Q1 (ISO weeks 1-13); reports cover whole quarters only, so no two "
        "reports can be subtracted to isolate a week",
    ),
]


class ContactReport(BaseModel):
    """Codes only: nothing here can hold free text."""

    model_config = ConfigDict(extra="forbid")

    mode: ContactMode
    categories: list[Category] = Field(min_length=1, max_length=9)
    duration: DurationBucket
    referral: Referral = "none"
    followup_wanted: bool = False
    risk_flag: bool = Field(default=False, description="hands the case to escalation (by event)")
    week: Week | None = Field(default=None, description="defaults to the current week")
    report_id: str | None = Field(
        default=None, pattern=TOKEN.pattern, description="client key: a retried report is stored once"
    )


class Logged(BaseModel):
    event_id: str
    week: str
    initial: bool


class CloseCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: domain.Outcome = "supported"


class TimelineEntry(BaseModel):
    at: str
    what: str
    peer_ref: str | None
    detail: str | None


def _fail(exc: domain.Rejected) -> HTTPException:
    if isinstance(exc, domain.NoSuchCase):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, domain.NotAssigned):
        return HTTPException(status.HTTP_403_FORBIDDEN, str(exc))
    code = 422 if ":" in str(exc) else status.HTTP_409_CONFLICT
    return HTTPException(code, str(exc))


def build_api(
    store: Callable[[], EventStore], engine: Engine, auth: Auth, settings: TrackingSettings, clock: Clock
) -> FastAPI:
    api = service_api("Peerline tracking", "Coded contacts and trends.", auth, settings.http_limits())

    @api.get("/healthz", tags=["ops"], dependencies=[Auth.open("a liveness probe: says nothing")])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def decide_and_append(
        agency: str, case_id: str, decide: Callable[[domain.Case], list], command_id: str | None
    ) -> Envelope:
        try:
            done = await decision.decide(
                store(),
                Aggregate(agency, "case", case_id),
                lambda history: domain.fold(payloads(history)),
                decide,
                source=SOURCE,
                command_id=command_id,
                cause=lambda history: history.events[-1].envelope if history.events else None,
            )
        except domain.Rejected as exc:
            raise _fail(exc) from exc
        return done.envelopes[0]

    @api.post(
        "/v1/agencies/{agency}/cases/{case_id}/contacts",
        status_code=status.HTTP_201_CREATED,
        response_model=Logged,
        tags=["contacts"],
    )
    async def log_contact(
        agency: str, case_id: str, body: ContactReport, who: Principal = auth.require("peer")
    ) -> Logged:
        """The assigned peer reports one interaction in codes (a few taps; no free text)."""
        check_token(agency, case_id)
        cmd = domain.LogContact(
            mode=body.mode,
            categories=tuple(body.categories),
            duration=body.duration,
            referral=body.referral,
            followup_wanted=body.followup_wanted,
            risk_flag=body.risk_flag,
            week=body.week,
        )
        by = domain.Reporter(peer_ref=who.sub, agency=who.agency)
        current = domain.iso_week(clock.now())
        command_id = f"contact/{body.report_id}" if body.report_id else None  # a report sent again: once
        env = await decide_and_append(
            agency,
            case_id,
            lambda case: domain.log_contact(
                case, by, cmd, current_week=current, window_weeks=settings.contact_window_weeks
            ),
            command_id,
        )
        return Logged(event_id=env.id, week=str(env.data["week"]), initial=bool(env.data["initial"]))

    @api.post("/v1/agencies/{agency}/cases/{case_id}/close", tags=["coordination"])
    async def close_case(
        agency: str, case_id: str, body: CloseCase, who: Principal = auth.require("coordinator")
    ) -> dict[str, str]:
        check_agency(who, agency)
        check_token(agency, case_id)
        env = await decide_and_append(
            agency, case_id, lambda case: domain.close_case(case, body.outcome), "close"
        )
        return {"case_id": case_id, "status": "closed", "event_id": env.id}

    @api.get(
        "/v1/agencies/{agency}/cases/{case_id}/timeline",
        response_model=list[TimelineEntry],
        tags=["coordination"],
    )
    def case_timeline(
        agency: str, case_id: str, who: Principal = auth.require("coordinator")
    ) -> list[dict[str, object]]:
        """Who was assigned when, follow-ups and escalation state — never content."""
        check_agency(who, agency)
        with engine.connect() as conn:
            rows = queries.timeline(conn, agency, case_id)
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case in this agency")
        return [{**r, "at": r["at"].isoformat()} for r in rows]  # type: ignore[attr-defined]

    publisher = publication.Reports(settings.threshold)

    def respond(report: reports.Report, fmt: str) -> Response:
        if fmt == "csv":
            return Response(report.to_csv(), media_type="text/csv")
        return Response(json.dumps(report.to_json()), media_type="application/json")

    def run(
        report: str, by: str | None, rows_by: str, agency: str | None, quarter: str | None
    ) -> reports.Report:
        quarter = quarter or publication.quarter_of(domain.iso_week(clock.now()))
        by = by or reports.default_by(report)
        try:
            with engine.connect() as conn:
                return publisher.build(conn, report, by, rows_by=rows_by, agency=agency, quarter=quarter)
        except reports.BadQuery as exc:
            raise HTTPException(422, str(exc)) from exc

    @api.get("/v1/agencies/{agency}/reports/{report}", tags=["reports"])
    def agency_report(
        agency: str,
        report: str,
        who: Principal = auth.require("leader", "regional_admin"),
        by: By = None,
        quarter: Quarter | None = None,
        fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    ) -> Response:
        """One agency's weeks in a quarter; small cells and their complements suppressed."""
        check_agency(who, agency)
        return respond(run(report, by, "week", agency, quarter), fmt)

    @api.get("/v1/region/reports/{report}", tags=["reports"])
    def regional_report(
        report: str,
        who: Principal = auth.require("regional_admin"),
        by: By = None,
        quarter: Quarter | None = None,
        fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    ) -> Response:
        """The regional roll-up: one row per agency for a quarter, at the strictest agency's threshold.

        There is deliberately no region-by-week table: each of its cells would be a sum of the
        agencies' weekly cells, and subtracting the published ones would reveal a hidden one."""
        return respond(run(report, by, "agency", None, quarter), fmt)

    return api


def check_token(agency: str, case_id: str) -> None:
    if not TOKEN.match(agency) or not TOKEN.match(case_id):
        raise HTTPException(422, "agency/case_id: not a valid identifier")
