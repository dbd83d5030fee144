"""The peer's pages: an offer (reached from its notification) to accept or decline, the cases taken, a
coded contact report in a few taps, a concern on a case, follow-ups, breaks and load."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.backend import backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session
from shared.contracts.escalation import ALL_CATEGORIES
from shared.contracts.matching import DeclineReason
from shared.contracts.tracking import Category, ContactMode, DurationBucket, Referral
from shared.envelope import TOKEN

router = APIRouter(prefix="/peer")
Peer = Annotated[Session, Depends(signed_in("peer"))]
Ref = Annotated[str, Form(pattern=TOKEN.pattern)]
CHANGE = [Depends(state_change)]
MODES: tuple[str, ...] = get_args(ContactMode)
CATEGORIES: tuple[str, ...] = get_args(Category)
DURATIONS: tuple[str, ...] = get_args(DurationBucket)
REFERRALS: tuple[str, ...] = get_args(Referral)
DECLINE_REASONS: tuple[str, ...] = get_args(DeclineReason)


@router.get("")
async def home(request: Request, me: Peer) -> Response:
    api = backend(request)
    load = await api.call("wellness", "GET", f"/v1/agencies/{me.agency}/peers/{me.sub}/load", me)
    followups = await api.call("wellness", "GET", f"/v1/agencies/{me.agency}/followups/mine", me)
    return page(request, "peer/home.html", load=load, followups=followups, cases=list(me.cases))


@router.get("/offers/{case_id}")
def offer(request: Request, case_id: str, me: Peer, agency: str | None = None) -> Response:
    """Where an offer's notification leads. `agency` is the case's agency when it is not the peer's own."""
    return page(
        request, "peer/offer.html", case_id=case_id, case_agency=agency or me.agency, reasons=DECLINE_REASONS
    )


async def answer(
    request: Request, me: Session, case_id: str, case_agency: str, verb: str, **more: str
) -> Any:
    path = f"/v1/agencies/{me.agency}/peers/{me.sub}/assignments/{case_id}/{verb}"
    body = {"case_agency": case_agency, **more}
    return await backend(request).call("matching", "POST", path, me, json=body)


@router.post("/offers/{case_id}/accept", dependencies=CHANGE)
async def accept(request: Request, case_id: str, me: Peer, case_agency: Ref) -> Response:
    await answer(request, me, case_id, case_agency, "accept")
    me.cases[case_id] = case_agency
    return RedirectResponse(f"/peer/cases/{case_id}", status_code=303)


@router.post("/offers/{case_id}/decline", dependencies=CHANGE)
async def decline(
    request: Request,
    case_id: str,
    me: Peer,
    case_agency: Ref,
    reason: Annotated[DeclineReason | None, Form()] = None,
) -> Response:
    """A coded reason, or none: never free text."""
    await answer(request, me, case_id, case_agency, "decline", **({"reason": reason} if reason else {}))
    return RedirectResponse("/peer/inbox", status_code=303)


@router.get("/cases")
def cases(request: Request, me: Peer) -> Response:
    return page(request, "peer/cases.html", cases=list(me.cases))


@router.get("/cases/{case_id}")
def case(
    request: Request, case_id: str, me: Peer, logged: str | None = None, raised: str | None = None
) -> Response:
    return page(
        request,
        "peer/case.html",
        case_id=case_id,
        modes=MODES,
        categories=CATEGORIES,
        durations=DURATIONS,
        referrals=REFERRALS,
        concerns=ALL_CATEGORIES,
        report_id=f"r-{uuid.uuid4().hex[:16]}",
        logged=logged,
        raised=raised,
    )


@router.post("/cases/{case_id}/contacts", dependencies=CHANGE)
async def log_contact(
    request: Request,
    case_id: str,
    me: Peer,
    mode: Annotated[ContactMode, Form()],
    categories: Annotated[list[Category], Form(min_length=1)],
    duration: Annotated[DurationBucket, Form()],
    report_id: Ref,
    referral: Annotated[Referral, Form()] = "none",
    followup_wanted: Annotated[bool, Form()] = False,
    risk_flag: Annotated[bool, Form()] = False,
) -> Response:
    report = {
        "mode": mode,
        "categories": categories,
        "duration": duration,
        "referral": referral,
        "followup_wanted": followup_wanted,
        "risk_flag": risk_flag,
        "report_id": report_id,
    }
    agency = me.cases.get(case_id, me.agency)
    await backend(request).call(
        "tracking", "POST", f"/v1/agencies/{agency}/cases/{case_id}/contacts", me, report
    )
    return RedirectResponse(f"/peer/cases/{case_id}?logged=1", status_code=303)


@router.post("/cases/{case_id}/concerns", dependencies=CHANGE)
async def raise_concern(
    request: Request,
    case_id: str,
    me: Peer,
    category: Annotated[str, Form(pattern=TOKEN.pattern)],
    intent_and_plan: Annotated[bool, Form()] = False,
) -> Response:
    body = {"case_id": case_id, "category": category, "intent_and_plan": intent_and_plan}
    raised = await backend(request).call(
        "escalation", "POST", f"/v1/agencies/{me.agency}/escalations", me, body
    )
    return RedirectResponse(f"/peer/cases/{case_id}?raised={raised['escalation_id']}", status_code=303)


@router.get("/followups")
async def followups(request: Request, me: Peer) -> Response:
    found = await backend(request).call("wellness", "GET", f"/v1/agencies/{me.agency}/followups/mine", me)
    return page(request, "peer/followups.html", followups=found)


@router.post("/followups/{followup_id}/complete", dependencies=CHANGE)
async def complete(request: Request, followup_id: str, me: Peer) -> Response:
    path = f"/v1/agencies/{me.agency}/followups/{followup_id}/complete"
    await backend(request).call("wellness", "POST", path, me)
    return RedirectResponse("/peer/followups", status_code=303)


@router.post("/break", dependencies=CHANGE)
async def take_break(request: Request, me: Peer) -> Response:
    await backend(request).call("wellness", "POST", f"/v1/agencies/{me.agency}/peers/{me.sub}/break", me, {})
    return RedirectResponse("/peer", status_code=303)


@router.post("/break/end", dependencies=CHANGE)
async def end_break(request: Request, me: Peer) -> Response:
    await backend(request).call("wellness", "POST", f"/v1/agencies/{me.agency}/peers/{me.sub}/break/end", me)
    return RedirectResponse("/peer", status_code=303)
