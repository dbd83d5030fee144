"""Every service's FastAPI app starts here: the same guards (rate, body size, text) and the same error
answers everywhere. A 422 names each bad field and the problem, never the value sent (it may be
someone's identity, or 8 MB); the event log being unreachable, or a record that kept changing under a
decision (`Busy`), is a 503 that says nothing was recorded. Its API docs (Swagger UI at /docs, ReDoc at
/redoc) load their scripts from the service itself, so they render offline (the assets ship in the
`fastapi-offline` wheel).
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from nats.errors import Error as NatsError
from pydantic import ValidationError

from shared.auth import Auth
from shared.decision import Busy
from shared.limits import HttpLimits, Limits, RateLimiter
from shared.telemetry import http_telemetry

log = logging.getLogger("peerline.http")
DOC_ASSETS = Path(str(files("fastapi_offline") / "static"))  # swagger-ui-bundle.js, redoc.standalone.js…
ASSETS_URL = "/docs-assets"
MAX_LOC = 64  # a key of the body is part of a loc: bounded, so a loc cannot carry a whole input


def _loc(loc: tuple[int | str, ...]) -> list[int | str]:
    return [part if isinstance(part, int) else part[:MAX_LOC] for part in loc]


def problems(errors: list[Any], prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Pydantic errors without their `input` and `ctx`: where, what kind, and the message only."""
    return [{"loc": _loc((*prefix, *e["loc"])), "msg": e["msg"], "type": e["type"]} for e in errors]


async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": problems(list(exc.errors()))}, status_code=422)


async def invalid_value(_request: Request, exc: Exception) -> JSONResponse:
    """A value that passed the request schema but not a contract it is written into: still bad input."""
    assert isinstance(exc, ValidationError)
    return JSONResponse({"detail": problems(exc.errors(), ("body",))}, status_code=422)


async def log_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The log could not take the write (NATS restarting, unreachable): nothing was accepted, say so."""
    log.warning("event log unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "the event log is unavailable; nothing was recorded — try again shortly"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


async def busy(_request: Request, exc: Exception) -> JSONResponse:
    """A decision gave up after repeated conflicts on one aggregate: nothing was recorded, try again."""
    assert isinstance(exc, Busy)
    log.info("a %s kept changing under a decision", exc.kind)  # its kind only: ids stay out of logs
    return JSONResponse(
        {"detail": "this record is busy; nothing was recorded — try again shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def service_api(title: str, description: str, auth: Auth, limits: HttpLimits | None = None) -> FastAPI:
    """A FastAPI app with Peerline's guards and error answers; the service adds its routes."""
    limits = limits or HttpLimits()
    api = FastAPI(
        title=title,
        version="1",
        description=description,
        docs_url=None,
        redoc_url=None,
        telemetry=http_telemetry(),
    )
    add_docs(api)
    api.add_exception_handler(RequestValidationError, invalid_request)
    api.add_exception_handler(ValidationError, invalid_value)
    api.add_exception_handler(NatsError, log_unavailable)
    api.add_exception_handler(TimeoutError, log_unavailable)
    api.add_exception_handler(Busy, busy)
    api.add_middleware(
        Limits,
        max_body=limits.max_body,
        limiter=RateLimiter(limits.per_minute, limits.burst),
        identify=auth.verifier.client_name,
    )
    return api


def add_docs(api: FastAPI) -> None:
    """Swagger UI and ReDoc with their scripts, styles and icon served from this app, not a CDN. Plain
    routes, as FastAPI's own docs are: public like the OpenAPI document they render, outside the schema."""
    api.mount(ASSETS_URL, StaticFiles(directory=DOC_ASSETS), name="docs-assets")
    # Relative URLs, so the pages also work behind the ingress's `/api/<service>/` prefix (stripped there)
    title, spec, assets = f"{api.title} — API", "." + (api.openapi_url or "/openapi.json"), "." + ASSETS_URL

    async def swagger(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=spec,
            title=title,
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        )

    async def redoc(_request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=spec,
            title=title,
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )

    api.add_route("/docs", swagger, include_in_schema=False)
    api.add_route("/redoc", redoc, include_in_schema=False)
