"""The coordinator's queue: the agency's cases waiting for a peer (requested, offered, unmatched), kept
current by htmx polling; a case's matching decisions (why this peer; a reason that would reveal a
relation to the member reads only "conflict") and its timeline, never its content; assigning and
reassigning by hand; follow-ups overdue and critical incidents with their debrief uptake."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from services.console.backend import Refused, backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session
from shared.envelope import TOKEN

router = APIRouter(prefix="/coordinator")
Coordinator = Annotated[Session, Depends(signed_in("coordinator"))]
Ref = Annotated[str, Form(pattern=TOKEN.pattern, max_length=64)]
CaseId = Annotated[str, Path(pattern=TOKEN.pattern, max_length=64)]
CHANGE = [Depends(state_change)]
QUEUED = ("requested", "offered", "unmatched")


async def queue(request: Request, me: Session) -> dict[str, list[dict[str, Any]]]:
    api = backend(request)
    found = {}
    for status in QUEUED:
        path = f"/v1/agencies/{me.agency}/cases?status={status}&limit=50"
        found[status] = await api.call("intake", "GET", path, me)
    return found


async def optional(request: Request, me: Session, service: str, path: str, empty: Any) -> Any:
    """A read that may not exist yet (no decision on a new case): `empty` instead of the error page."""
    try:
        return await backend(request).call(service, "GET", path, me)
    except Refused as exc:
        if exc.status != 404:
            raise
        return empty


@router.get("")
async def home(request: Request, me: Coordinator) -> Response:
    api = backend(request)
    overdue = await api.call("wellness", "GET", f"/v1/agencies/{me.agency}/followups/overdue", me)
    incidents = await api.call("wellness", "GET", f"/v1/agencies/{me.agency}/incidents/uptake", me)
    return page(
        request,
        "coordinator/home.html",
        queue=await queue(request, me),
        overdue=overdue,
        incidents=incidents,
    )


@router.get("/queue")
async def queue_part(request: Request, me: Coordinator) -> Response:
    """The queue alone, for the page's polling."""
    return page(request, "coordinator/_queue.html", queue=await queue(request, me))


@router.get("/cases/{case_id}")
async def case(request: Request, case_id: CaseId, me: Coordinator, done: str | None = None) -> Response:
    a = me.agency
    explanation = await optional(request, me, "matching", f"/v1/agencies/{a}/cases/{case_id}/explanation", {})
    timeline = await optional(request, me, "tracking", f"/v1/agencies/{a}/cases/{case_id}/timeline", [])
    active = await backend(request).call("matching", "GET", f"/v1/agencies/{a}/peers?stage=active", me)
    return page(
        request,
        "coordinator/case.html",
        case_id=case_id,
        decisions=explanation.get("decisions", []),
        timeline=timeline,
        peers=active,
        done=done,
    )


@router.post("/cases/{case_id}/assignment", dependencies=CHANGE)
async def assign(request: Request, case_id: CaseId, me: Coordinator, peer_ref: Ref) -> Response:
    """Give the case to this peer (handed on from its current peer, if any)."""
    path = f"/v1/agencies/{me.agency}/cases/{case_id}/assignment"
    await backend(request).call("matching", "POST", path, me, {"peer_ref": peer_ref})
    return RedirectResponse(f"/coordinator/cases/{case_id}?done=assigned", status_code=303)


@router.post("/cases/{case_id}/rematch", dependencies=CHANGE)
async def rematch(request: Request, case_id: CaseId, me: Coordinator) -> Response:
    await backend(request).call("matching", "POST", f"/v1/agencies/{me.agency}/cases/{case_id}/rematch", me)
    return RedirectResponse(f"/coordinator/cases/{case_id}?done=rematched", status_code=303)
