"""Everyone's own pages: a responder's debrief offers and exposure check-in (never shown to command), and
each person's notification channels and quiet hours (kept by notify, sealed)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from services.console.backend import backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session

router = APIRouter(prefix="/me")
Responder = Annotated[Session, Depends(signed_in("member"))]
Anyone = Annotated[Session, Depends(signed_in("member", "peer"))]
CHANGE = [Depends(state_change)]


@router.get("/debriefs")
async def debriefs(request: Request, me: Responder) -> Response:
    offers = await backend(request).call("wellness", "GET", f"/v1/agencies/{me.agency}/offers/mine", me)
    return page(request, "me/debriefs.html", offers=offers)


@router.get("/debriefs/{offer_id}")
async def debrief(request: Request, offer_id: str, me: Responder) -> Response:
    offers = await backend(request).call("wellness", "GET", f"/v1/agencies/{me.agency}/offers/mine", me)
    found = next((o for o in offers if o["offer_id"] == offer_id), None)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such offer for you")
    return page(request, "me/debriefs.html", offers=[found])


@router.post("/debriefs/{offer_id}/{verb}", dependencies=CHANGE)
async def answer(request: Request, offer_id: str, verb: str, me: Responder) -> Response:
    if verb not in ("accept", "decline"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "accept or decline")
    await backend(request).call("wellness", "POST", f"/v1/agencies/{me.agency}/offers/{offer_id}/{verb}", me)
    return RedirectResponse("/me/debriefs", status_code=303)


@router.get("/checkins")
async def checkins(request: Request, me: Responder) -> Response:
    path = f"/v1/agencies/{me.agency}/members/{me.sub}/exposure"
    exposure = await backend(request).call("wellness", "GET", path, me)
    return page(request, "me/checkins.html", exposure=exposure)


@router.get("/notifications")
async def notifications(request: Request, me: Anyone) -> Response:
    api = backend(request)
    contacts = await api.call("notify", "GET", "/v1/me/contacts", me)
    prefs = await api.call("notify", "GET", "/v1/me/preferences", me)
    key = await api.call("notify", "GET", "/v1/push/key")
    return page(request, "me/notifications.html", contacts=contacts, prefs=prefs, push_key=key)


@router.post("/notifications/email", dependencies=CHANGE)
async def add_email(request: Request, me: Anyone, email: Annotated[str, Form(max_length=254)]) -> Response:
    await backend(request).call("notify", "POST", "/v1/me/contacts", me, {"channel": "email", "email": email})
    return RedirectResponse("/me/notifications", status_code=303)


@router.post("/notifications/push", dependencies=CHANGE)
async def add_push(request: Request, me: Anyone) -> Response:
    """The service worker's Web Push subscription, sent by the page as JSON (with the CSRF header)."""
    subscription: Any = await request.json()
    body = {"channel": "push", "subscription": subscription}
    await backend(request).call("notify", "POST", "/v1/me/contacts", me, body)
    return Response(status_code=204)


@router.post("/notifications/{contact_id}/remove", dependencies=CHANGE)
async def remove(request: Request, contact_id: str, me: Anyone) -> Response:
    await backend(request).call("notify", "DELETE", f"/v1/me/contacts/{contact_id}", me)
    return RedirectResponse("/me/notifications", status_code=303)


@router.post("/notifications/quiet", dependencies=CHANGE)
async def quiet_hours(
    request: Request,
    me: Anyone,
    tz: Annotated[str, Form(max_length=64)] = "UTC",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    opt_in: Annotated[bool, Form()] = False,
) -> Response:
    quiet = {"start": start, "end": end} if start and end else None
    body = {"tz": tz, "quiet_hours": quiet, "opt_in": opt_in}
    await backend(request).call("notify", "PUT", "/v1/me/preferences", me, body)
    return RedirectResponse("/me/notifications", status_code=303)
