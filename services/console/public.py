"""Pages anyone may read without signing in: the start page, the resource directory and crisis lines,
the quick exit, the language choice, and the installable app's manifest and service worker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from services.console import i18n
from services.console.backend import Refused, Unavailable, backend
from services.console.rendering import page
from services.console.security import COOKIE_NAME, session_of, state_change
from shared.envelope import TOKEN

STATIC = Path(__file__).parent / "static"
router = APIRouter()
# The directory's sections, in the order shown (intake's resource kinds).
RESOURCE_KINDS = ("crisis_line", "employee_assistance", "clinician", "chaplain")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/")
def home(request: Request) -> Response:
    return page(request, "home.html")


@router.get("/resources")
async def resources(
    request: Request, agency: Annotated[str | None, Query(pattern=TOKEN.pattern)] = None
) -> Response:
    """The agency's advisement, crisis lines and resource directory, from intake's open route; when
    intake cannot answer, the page still gives 9-1-1 and 9-8-8."""
    chosen = agency or session_of(request).agency or request.app.state.settings.default_agency
    try:
        published = await backend(request).call("intake", "GET", f"/v1/agencies/{chosen}/public")
    except (Unavailable, Refused):
        published = None
    return page(request, "resources.html", published=published, kinds=RESOURCE_KINDS)


@router.post("/lang", dependencies=[Depends(state_change)])
def choose_language(request: Request, lang: Annotated[str, Form(pattern="^(en|fr)$")]) -> Response:
    session_of(request).lang = lang
    back = request.headers.get("referer") or "/"
    return RedirectResponse(back if back.startswith(str(request.base_url)) else "/", status_code=303)


@router.post("/exit", dependencies=[Depends(state_change)])
def quick_exit(request: Request) -> Response:
    """Ends the session at once and tells the browser to forget this site's cookies, cache and storage."""
    request.app.state.sessions.end(session_of(request))
    request.state.new_session = None
    if request.headers.get("sec-fetch-mode", "navigate") == "navigate":  # the form, without script
        response: Response = RedirectResponse(request.app.state.settings.exit_url, status_code=303)
    else:  # the page's script already leaves with `location.replace`
        response = Response(status_code=204)
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> Response:
    tr = request.app.state.translations[i18n.choose(None, request.headers.get("accept-language", ""))]
    return JSONResponse(
        {
            "name": "Peerline",
            "short_name": "Peerline",
            "description": tr.gettext("Peer support for first responders"),
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "background_color": "#10151c",
            "theme_color": "#10151c",
            "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
        },
        media_type="application/manifest+json",
    )


@router.get("/sw.js")
def service_worker() -> Response:
    """Served from the root so that it controls every page."""
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/bye")
def bye() -> Response:
    """The quick exit's default landing: an empty page that says nothing about where the person was."""
    blank = '<!doctype html><html lang=en><title>New page</title><link rel=icon href="data:,"></html>'
    return Response(blank, media_type="text/html")


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on their own; answering it keeps that request from starting a session."""
    return FileResponse(STATIC / "icon.svg", media_type="image/svg+xml")
