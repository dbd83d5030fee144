"""Sign-in and sign-out. Embedded mode: a page listing the demo people by role, their tokens minted with
the development key `peerline up` made. Real deployments: the agency's OpenID Connect provider."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from services.console.people import demo_people
from services.console.rendering import page
from services.console.security import session_of, state_change
from shared.auth import Role, mint

router = APIRouter()
HOME = {
    "member": "/member",
    "peer": "/peer",
    "coordinator": "/coordinator",
    "clinician": "/clinician",
    "leader": "/leader",
    "regional_admin": "/admin",
}


def signed_in_as(request: Request, token: str, role: str, agency: str, sub: str, label: str) -> Response:
    """A fresh session (new id, new CSRF token) holds the token; the browser gets only the new id."""
    fresh = request.app.state.sessions.rotate(session_of(request))
    fresh.token, fresh.role, fresh.agency, fresh.sub, fresh.label = token, role, agency, sub, label
    request.state.new_session = fresh
    return RedirectResponse(HOME.get(role, "/"), status_code=303)


@router.get("/signin")
async def sign_in_page(request: Request) -> Response:
    settings = request.app.state.settings
    if settings.sign_in == "oidc":
        return await request.app.state.oidc.start(request, session_of(request))
    key = settings.dev_key_file()
    people = demo_people()
    return page(request, "signin.html", people=people, key_missing=not key.exists())


@router.post("/signin/dev", dependencies=[Depends(state_change)])
def dev_sign_in(
    request: Request,
    role: Annotated[str, Form(max_length=16)],
    agency: Annotated[str, Form(max_length=64)],
    sub: Annotated[str, Form(max_length=64)],
) -> Response:
    settings = request.app.state.settings
    if settings.sign_in != "dev":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the development sign-in is off")
    person = next(
        (p for p in demo_people() if (p.role, p.agency, p.sub) == (role, agency, sub)),
        None,
    )
    if person is None:
        raise HTTPException(422, "invalid: not one of the demo people")
    try:
        private = settings.dev_key_file().read_bytes()
    except OSError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "no development key: run peerline up"
        ) from exc
    token = mint(private, role=cast(Role, person.role), agency=person.agency, sub=person.sub)
    return signed_in_as(request, token, person.role, person.agency, person.sub, person.label)


@router.get("/signin/callback")
async def oidc_callback(request: Request) -> Response:
    if request.app.state.settings.sign_in != "oidc":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "single sign-on is not configured")
    token, claims = await request.app.state.oidc.finish(request, session_of(request))
    return signed_in_as(
        request, token, str(claims["role"]), str(claims["agency"]), str(claims["sub"]), str(claims["sub"])
    )


@router.post("/signout", dependencies=[Depends(state_change)])
def sign_out(request: Request) -> Response:
    request.app.state.sessions.end(session_of(request))
    request.state.new_session = request.app.state.sessions.new()
    return RedirectResponse("/", status_code=303)
