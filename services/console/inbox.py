"""The peer's inbox: the offers waiting for their answer, each with the time left to answer (the list is
re-rendered by htmx polling; the page's script ticks the seconds in between), and the member's callback
on a case the peer accepted (each reading is recorded by intake before the number is shown)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.console.backend import Refused, backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session

router = APIRouter(prefix="/peer")
Peer = Annotated[Session, Depends(signed_in("peer"))]


def seconds_left(respond_by: str | None, now: datetime) -> int | None:
    if not respond_by:
        return None
    try:
        until = datetime.fromisoformat(respond_by)
    except ValueError:
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return max(0, int((until - now).total_seconds()))


async def open_offers(request: Request, me: Session) -> list[dict[str, Any]]:
    path = f"/v1/agencies/{me.agency}/peers/{me.sub}/offers"
    found = await backend(request).call("matching", "GET", path, me)
    now = datetime.now(UTC)
    return [{**o, "seconds_left": seconds_left(o.get("respond_by"), now)} for o in found]


@router.get("/inbox")
async def inbox(request: Request, me: Peer) -> Response:
    return page(request, "peer/inbox.html", offers=await open_offers(request, me))


@router.get("/inbox/offers")
async def inbox_offers(request: Request, me: Peer) -> Response:
    """The list alone, for the page's polling."""
    return page(request, "peer/_offers.html", offers=await open_offers(request, me))


@router.post("/cases/{case_id}/callback", dependencies=[Depends(state_change)])
async def callback(request: Request, case_id: str, me: Peer) -> Response:
    """The member's callback for this case, if they left one; intake records the reading first."""
    path = f"/v1/agencies/{me.agency}/cases/{case_id}/callback"
    try:
        released = await backend(request).call("intake", "GET", path, me)
    except Refused as exc:
        if exc.status not in (404, 410):
            raise
        released = None  # none left, or shredded with the case
    return page(request, "peer/callback.html", case_id=case_id, released=released)
