"""Errors as pages: a service that is down or refuses says so plainly; nothing is a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from services.console.backend import Refused, Unavailable
from services.console.people import SignInFirst
from services.console.rendering import page


def add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInFirst)
    async def sign_in_first(request: Request, _exc: SignInFirst) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        return page(request, "error.html", 503, problem="unavailable", detail=str(exc))

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return page(request, "error.html", exc.status, problem="refused", detail=exc.detail)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return page(request, "error.html", exc.status_code, problem="refused", detail=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in exc.errors())
        return page(request, "error.html", 422, problem="refused", detail=f"invalid: {fields}")
