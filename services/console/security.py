"""Browser-facing protections: a nonce CSP that forbids framing, no caching of anything personal, the
session cookie, and the CSRF token plus `Sec-Fetch-Site` check on every state change."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, Response, status

from services.console.sessions import COOKIE, Session, Sessions

COOKIE_NAME = COOKIE

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE = {"GET", "HEAD", "OPTIONS"}


def csp(nonce: str) -> str:
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
        "manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Every response: CSP with a fresh nonce; every page (not the static files): `no-store`."""
    request.state.nonce = secrets.token_urlsafe(16)
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = csp(request.state.nonce)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    fresh = getattr(request.state, "new_session", None)
    if fresh is not None:
        set_cookie(response, fresh, request.app.state.settings.session_ttl_s)
    return response


def session_of(request: Request) -> Session:
    """The visitor's session, started on first sight (anonymous until sign-in)."""
    sessions: Sessions = request.app.state.sessions
    found = sessions.get(request.cookies.get(COOKIE))
    if found is None:
        found = sessions.new()
        request.state.new_session = found
    return found


def set_cookie(response: Response, session: Session, ttl_s: int) -> None:
    response.set_cookie(
        COOKIE, session.sid, max_age=ttl_s, path="/", secure=True, httponly=True, samesite="strict"
    )


async def state_change(request: Request) -> None:
    """A dependency on every POST: same-origin only, and the session's CSRF token (header or form field)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    sessions: Sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or stale CSRF token: reload the page")
