"""The coordinator's peer roster through its lifecycle: application → selection → training (with its
expiry) → mentor → active → re-confirmation → deselection, every step a coded command to matching (the
page after a step shows the card the command returned); and the team's load at a glance,
kept current by htmx polling."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from services.console.backend import backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session
from shared.contracts.intake import Discipline
from shared.envelope import TOKEN

router = APIRouter(prefix="/coordinator/roster")
Coordinator = Annotated[Session, Depends(signed_in("coordinator"))]
PeerRef = Annotated[str, Path(pattern=TOKEN.pattern, max_length=64)]
Ref = Annotated[str, Form(pattern=TOKEN.pattern, max_length=64)]
CHANGE = [Depends(state_change)]
Course = Literal["peer-support-basic", "cism-basic", "suicide-awareness", "group-crisis-intervention"]
Language = Literal["en", "es", "fr"]
DeselectionReason = Literal["program_decision", "confidentiality_breach", "left_agency", "own_request"]
STEPS = {"selection": "selected", "activation": "activated", "confirmation": "re-confirmed"}


def peers_path(me: Session, peer_ref: str = "") -> str:
    return f"/v1/agencies/{me.agency}/peers" + (f"/{peer_ref}" if peer_ref else "")


async def team(request: Request, me: Session) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await backend(request).call(
        "matching", "GET", peers_path(me) + "?limit=500", me
    )
    return found


@router.get("")
async def roster(request: Request, me: Coordinator) -> Response:
    return page(
        request,
        "coordinator/roster.html",
        team=await team(request, me),
        disciplines=get_args(Discipline),
        languages=get_args(Language),
    )


@router.get("/rows")
async def rows(request: Request, me: Coordinator) -> Response:
    """The roster's rows alone, for the page's polling: a step just taken, or a peer going on duty,
    shows without a reload."""
    return page(request, "coordinator/_roster_rows.html", team=await team(request, me))


@router.post("", dependencies=CHANGE)
async def apply(
    request: Request,
    me: Coordinator,
    discipline: Annotated[Discipline, Form()],
    languages: Annotated[list[Language], Form(min_length=1)],
) -> Response:
    """A colleague's application to the peer team."""
    body = {"discipline": discipline, "languages": languages}
    return await command(request, me, "", "applied", "", body)


async def peer_page(request: Request, me: Session, card: dict[str, Any], done: str | None = None) -> Response:
    """The peer's card and the steps open to them. After a step, `card` is the one the command returned
    (matching's view may not have it yet)."""
    active = await backend(request).call("matching", "GET", peers_path(me) + "?stage=active", me)
    return page(
        request,
        "coordinator/peer.html",
        peer=card,
        mentors=[p for p in active if p["peer_ref"] != card["peer_ref"]],
        courses=get_args(Course),
        reasons=get_args(DeselectionReason),
        today=date.today().isoformat(),
        done=done,
    )


async def command(
    request: Request, me: Session, peer_ref: str, what: str, verb: str, body: Any = None
) -> Response:
    path = f"{peers_path(me, peer_ref)}/{verb}" if verb else peers_path(me)
    card = await backend(request).call("matching", "POST", path, me, body)
    shown = await peer_page(request, me, card, done=what)
    shown.headers["HX-Replace-Url"] = f"/coordinator/roster/{card['peer_ref']}"  # a reload is a GET
    return shown


@router.get("/{peer_ref}")
async def peer(request: Request, peer_ref: PeerRef, me: Coordinator) -> Response:
    card = await backend(request).call("matching", "GET", peers_path(me, peer_ref), me)
    return await peer_page(request, me, card)


@router.post("/{peer_ref}/step", dependencies=CHANGE)
async def step(
    request: Request,
    peer_ref: PeerRef,
    me: Coordinator,
    step: Annotated[Literal["selection", "activation", "confirmation"], Form()],
) -> Response:
    return await command(request, me, peer_ref, STEPS[step], step)


@router.post("/{peer_ref}/training", dependencies=CHANGE)
async def training(
    request: Request,
    peer_ref: PeerRef,
    me: Coordinator,
    course: Annotated[Course, Form()],
    completed_on: Annotated[date, Form()],
    expires_on: Annotated[date | None, Form()] = None,
) -> Response:
    body = {
        "course": course,
        "completed_on": completed_on.isoformat(),
        "expires_on": expires_on.isoformat() if expires_on else None,
    }
    return await command(request, me, peer_ref, "training recorded", "trainings", body)


@router.post("/{peer_ref}/mentor", dependencies=CHANGE)
async def mentor(request: Request, peer_ref: PeerRef, me: Coordinator, mentor_ref: Ref) -> Response:
    return await command(request, me, peer_ref, "mentor paired", "mentor", {"mentor_ref": mentor_ref})


@router.post("/{peer_ref}/deselection", dependencies=CHANGE)
async def deselect(
    request: Request, peer_ref: PeerRef, me: Coordinator, reason: Annotated[DeselectionReason, Form()]
) -> Response:
    """The peer leaves the team; matching hands their open cases on to other peers."""
    return await command(request, me, peer_ref, "deselected", "deselection", {"reason": reason})
