"""The member's pages (phone first): ask for a peer with the agency's advisement shown before sending,
then follow the case live, or cancel it. The case token intake returns stays in the server session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.console import i18n
from services.console.backend import Refused, Unavailable, backend
from services.console.people import signed_in
from services.console.rendering import page, templates
from services.console.security import state_change
from services.console.sessions import Session

router = APIRouter(prefix="/member")
member = signed_in("member")
Member = Annotated[Session, Depends(member)]
LANGUAGES = ("en", "fr", "es")
DISCIPLINES = ("fire", "police", "ems", "dispatch", "corrections")
FINAL = {"cancelled", "closed"}
PHONE = r"^\+?[0-9 ().-]{5,32}$"  # as intake checks it; the value is never echoed back


@router.get("")
async def ask(request: Request, me: Member) -> Response:
    advisement = await backend(request).call("intake", "GET", f"/v1/agencies/{me.agency}/advisement", me)
    return page(
        request,
        "member/ask.html",
        advisement=advisement,
        languages=LANGUAGES,
        disciplines=DISCIPLINES,
        cases=list(me.cases),
    )


@router.post("/requests", dependencies=[Depends(state_change)])
async def request_support(
    request: Request,
    me: Member,
    agency_scope: Annotated[str, Form(pattern="^(own|other|any)$")] = "own",
    peer_ref: Annotated[str, Form(max_length=64)] = "",
    language: Annotated[str, Form(max_length=3)] = "",
    peer_discipline: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    preferences: dict[str, Any] = {"agency_scope": agency_scope}
    for name, value in (("peer_ref", peer_ref), ("language", language), ("peer_discipline", peer_discipline)):
        if value.strip():
            preferences[name] = value.strip()
    created = await backend(request).call(
        "intake",
        "POST",
        "/v1/requests",
        me,
        json={"agency": me.agency, "activation": "self", "preferences": preferences},
    )
    me.cases[created["case_id"]] = created["case_token"]
    return RedirectResponse(f"/member/cases/{created['case_id']}", status_code=303)


def own_case(me: Session, case_id: str) -> str:
    token = me.cases.get(case_id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such request of yours")
    return token


async def case_status(request: Request, me: Session, case_id: str) -> dict[str, Any]:
    token = own_case(me, case_id)
    found = await backend(request).call(
        "intake", "GET", f"/v1/requests/{case_id}", headers={"X-Case-Token": token}
    )
    return dict(found)


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str, me: Member) -> Response:
    own_case(me, case_id)
    try:
        case = await case_status(request, me, case_id)
    except Refused:  # just created: intake's read model may not have it for a moment
        case = {"case_id": case_id, "status": "requested"}
    return page(request, "member/case.html", case=case)


@router.get("/cases/{case_id}/live", response_class=EventSourceResponse)
async def case_live(request: Request, case_id: str, me: Member) -> AsyncIterator[ServerSentEvent]:
    """The case's status as it changes, rendered; the stream ends when the case does."""
    own_case(me, case_id)
    last: tuple[Any, ...] | None = None
    fragment = templates.get_template("member/_status.html")
    tr = request.app.state.translations[i18n.choose(me.lang, request.headers.get("accept-language", ""))]
    while not await request.is_disconnected():
        try:
            case = await case_status(request, me, case_id)
        except (Refused, Unavailable):
            case = None  # not there yet, or intake restarting: try again at the next tick
        seen = None if case is None else (case["status"], case.get("callback"), bool(case.get("peer")))
        if case is not None and seen != last:
            last = seen
            yield ServerSentEvent(event="status", raw_data=fragment.render(case=case, _=tr.gettext))
            if case["status"] in FINAL:
                return
        await asyncio.sleep(request.app.state.settings.live_poll_s)


@router.post("/cases/{case_id}/callback", dependencies=[Depends(state_change)])
async def leave_callback(
    request: Request,
    case_id: str,
    me: Member,
    channel: Annotated[Literal["phone", "text"], Form()],
    number: Annotated[str, Form(pattern=PHONE, max_length=32)],
) -> Response:
    """A number for the peer who accepts this request, for this request only (sealed by intake)."""
    token = own_case(me, case_id)
    await backend(request).call(
        "intake",
        "POST",
        f"/v1/requests/{case_id}/callback",
        json={"channel": channel, "number": number},
        headers={"X-Case-Token": token},
    )
    return RedirectResponse(f"/member/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/cancel", dependencies=[Depends(state_change)])
async def cancel(request: Request, case_id: str, me: Member) -> Response:
    token = own_case(me, case_id)
    await backend(request).call(
        "intake", "POST", f"/v1/requests/{case_id}/cancel", headers={"X-Case-Token": token}
    )
    return RedirectResponse(f"/member/cases/{case_id}", status_code=303)
