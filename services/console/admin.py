"""The regional admin's pages: the region's agencies; per agency its policies (the disclosure policy,
changed by one admin and approved by a different one — escalation enforces it), crisis lines, on-call
schedules, CAD trigger rules, peer-load thresholds and code lists (read back from the services, which
take them from reviewed configuration files), and its integrations;
and the regional roll-up (tracking's one-row-per-agency reports, suppressed there)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Path, Request, status
from fastapi.responses import RedirectResponse, Response

from services.console import charts
from services.console.backend import Refused, backend
from services.console.leader import (
    DASHBOARDS,
    Ask,
    csv_response,
    fetch,
    known,
    view,
    words_of,
)
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session
from shared.contracts.escalation import ALL_CATEGORIES, Tier
from shared.seed import AGENCIES

router = APIRouter(prefix="/admin")
Admin = Annotated[Session, Depends(signed_in("regional_admin"))]
Agency = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
CHANGE = [Depends(state_change)]
ROLES = get_args(Tier.model_fields["role"].annotation)


async def maybe(request: Request, me: Session, service: str, path: str) -> Any:
    """A service's answer, or None where it has nothing (404)."""
    try:
        return await backend(request).call(service, "GET", path, me)
    except Refused as exc:
        if exc.status == status.HTTP_404_NOT_FOUND:
            return None
        raise


@router.get("")
async def agencies(request: Request, me: Admin) -> Response:
    rollup = await backend(request).call("tracking", "GET", "/v1/region/reports/requests", me)
    names = sorted(set(AGENCIES) | set(rollup["row_labels"]))
    return page(request, "admin/agencies.html", agencies=names)


@router.get("/agencies/{agency}")
async def agency(request: Request, agency: Agency, me: Admin) -> Response:
    base = f"/v1/agencies/{agency}"
    policy = await maybe(request, me, "escalation", f"{base}/disclosure-policy")
    proposal = await maybe(request, me, "escalation", f"{base}/disclosure-policy/proposal")
    api = backend(request)
    public = await api.call("intake", "GET", f"{base}/public")
    configuration = await api.call("intake", "GET", f"{base}/configuration", me)
    thresholds = await api.call("wellness", "GET", f"{base}/thresholds", me)
    oncall = {role: await maybe(request, me, "notify", f"{base}/oncall/{role}") for role in ROLES}
    return page(
        request,
        "admin/agency.html",
        agency=agency,
        policy=policy,
        proposal=proposal,
        public=public,
        configuration=configuration,
        thresholds=thresholds,
        oncall=oncall,
        categories=ALL_CATEGORIES,
        roles=ROLES,
    )


@router.post("/agencies/{agency}/disclosure-policy", dependencies=CHANGE)
async def propose(
    request: Request,
    agency: Agency,
    me: Admin,
    jurisdiction: Annotated[str, Form(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    self_harm_requires: Annotated[str, Form(pattern="^(any_threat|intent_and_plan)$")],
    disclosable: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies form defaults)
    tier_role: Annotated[list[str], Form()] = [],  # noqa: B006
    tier_ack_min: Annotated[list[int], Form()] = [],  # noqa: B006
) -> Response:
    """Propose a change; it takes effect only when another regional admin approves it."""
    chain = [
        {"role": role, "ack_within_s": minutes * 60}
        for role, minutes in zip(tier_role, tier_ack_min, strict=False)
        if role
    ]
    body = {
        "jurisdiction": jurisdiction,
        "disclosable": disclosable,
        "self_harm_requires": self_harm_requires,
        "chain": chain,
    }
    path = f"/v1/agencies/{agency}/disclosure-policy"
    await backend(request).call("escalation", "PUT", path, me, body)
    return RedirectResponse(f"/admin/agencies/{agency}#disclosure", status_code=303)


@router.post("/agencies/{agency}/disclosure-policy/approval", dependencies=CHANGE)
async def approve(
    request: Request,
    agency: Agency,
    me: Admin,
    proposal_id: Annotated[str, Form(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
) -> Response:
    """Approve the waiting change: escalation refuses it from the admin who proposed it."""
    path = f"/v1/agencies/{agency}/disclosure-policy/approval"
    await backend(request).call("escalation", "POST", path, me, {"proposal_id": proposal_id})
    return RedirectResponse(f"/admin/agencies/{agency}#disclosure", status_code=303)


@router.get("/rollup")
async def rollup(request: Request, me: Admin, q: Ask) -> Response:
    shown = []
    for d in DASHBOARDS.values():
        found = await fetch(request, me, f"/v1/region/reports/{d.report}{q.query(d.by)}")
        shown.append(view(request, d, found))
    return page(request, "admin/rollup.html", shown=shown, **q.chooser())


@router.get("/rollup/{report}/csv")
async def rollup_csv(request: Request, report: str, me: Admin, q: Ask) -> Response:
    _, by = known(report, q.by)
    found = await fetch(request, me, f"/v1/region/reports/{report}{q.query(by)}")
    return csv_response(charts.table(found, words_of(request)).csv(), f"region-{report}-{by}")
