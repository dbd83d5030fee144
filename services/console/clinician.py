"""The clinician's pages: open escalations with their acknowledgement deadlines ticking; acknowledge; a
reveal where the agency's policy allows it, with a coded reason, after seeing exactly what will be
recorded; resolve with an outcome; the escalation's audit records and the trail's verification. The
identity a reveal returns is shown once, in that response, and kept nowhere in the console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from services.console.backend import backend
from services.console.inbox import seconds_left
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session
from shared.contracts.escalation import EscalationResolved
from shared.contracts.intake import RevealReason
from shared.envelope import TOKEN

router = APIRouter(prefix="/clinician")
Clinician = Annotated[Session, Depends(signed_in("clinician"))]
EscalationId = Annotated[str, Path(pattern=TOKEN.pattern, max_length=64)]
Outcome = EscalationResolved.model_fields["outcome"].annotation
OUTCOMES: tuple[str, ...] = get_args(Outcome)
REASONS: tuple[str, ...] = get_args(RevealReason)
CHANGE = [Depends(state_change)]


def base(me: Session, escalation_id: str = "") -> str:
    return f"/v1/agencies/{me.agency}/escalations" + (f"/{escalation_id}" if escalation_id else "")


async def open_pages(request: Request, me: Session) -> list[dict[str, Any]]:
    found = await backend(request).call("escalation", "GET", base(me), me)
    now = datetime.now(UTC)
    return [{**e, "seconds_left": seconds_left(e.get("deadline_at"), now)} for e in found]


@router.get("")
async def home(request: Request, me: Clinician) -> Response:
    return page(request, "clinician/home.html", pages=await open_pages(request, me))


@router.get("/pages")
async def pages_part(request: Request, me: Clinician) -> Response:
    """The list alone, for the page's polling."""
    return page(request, "clinician/_pages.html", pages=await open_pages(request, me))


async def escalation_page(
    request: Request, me: Session, escalation_id: str, status_code: int = 200, **more: Any
) -> Response:
    api = backend(request)
    esc = await api.call("escalation", "GET", base(me, escalation_id), me)
    esc.update(more.pop("state", {}))  # a step's own answer is newer than the view
    records = await api.call("escalation", "GET", base(me, escalation_id) + "/audit", me)
    shown = page(
        request,
        "clinician/escalation.html",
        status_code,
        esc=esc,
        records=records,
        reasons=REASONS,
        outcomes=OUTCOMES,
        **more,
    )
    shown.headers["HX-Replace-Url"] = f"/clinician/escalations/{escalation_id}"  # a reload is a GET
    return shown


@router.get("/escalations/{escalation_id}")
async def escalation(request: Request, escalation_id: EscalationId, me: Clinician) -> Response:
    return await escalation_page(request, me, escalation_id)


@router.post("/escalations/{escalation_id}/acknowledge", dependencies=CHANGE)
async def acknowledge(request: Request, escalation_id: EscalationId, me: Clinician) -> Response:
    state = await backend(request).call("escalation", "POST", base(me, escalation_id) + "/acknowledge", me)
    return await escalation_page(request, me, escalation_id, state=state)


@router.post("/escalations/{escalation_id}/reveal/preview", dependencies=CHANGE)
async def preview(
    request: Request,
    escalation_id: EscalationId,
    me: Clinician,
    reason: Annotated[RevealReason, Form()],
) -> Response:
    """Exactly what the reveal will record, before anything is asked of the vault."""
    esc = await backend(request).call("escalation", "GET", base(me, escalation_id), me)
    record = {
        "escalation_id": escalation_id,
        "case_id": esc["case_id"],
        "basis": esc["category"],
        "reason": reason,
        "requested_by": me.sub,
        "disclosed_to": me.sub,
        "fields": "the names of the identity fields the vault holds (never their values)",
    }
    return page(request, "clinician/preview.html", esc=esc, record=record, reason=reason)


@router.post("/escalations/{escalation_id}/reveal", dependencies=CHANGE)
async def reveal(
    request: Request,
    escalation_id: EscalationId,
    me: Clinician,
    reason: Annotated[RevealReason, Form()],
) -> Response:
    path = base(me, escalation_id) + "/reveal"
    identity = await backend(request).call("escalation", "POST", path, me, {"reason": reason})
    return await escalation_page(request, me, escalation_id, identity=identity["fields"])


@router.post("/escalations/{escalation_id}/resolve", dependencies=CHANGE)
async def resolve(
    request: Request,
    escalation_id: EscalationId,
    me: Clinician,
    outcome: Annotated[str, Form(max_length=32)],
) -> Response:
    if outcome not in OUTCOMES:
        return page(request, "error.html", 422, problem="refused", detail="invalid: outcome")
    body = {"outcome": outcome}
    state = await backend(request).call("escalation", "POST", base(me, escalation_id) + "/resolve", me, body)
    return await escalation_page(request, me, escalation_id, state=state)


@router.get("/audit")
async def audit(request: Request, me: Clinician) -> Response:
    path = f"/v1/agencies/{me.agency}/audit/verification"
    verdict = await backend(request).call("escalation", "GET", path, me)
    return page(request, "clinician/audit.html", verdict=verdict)
