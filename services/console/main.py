"""The console's composition root: one web app for people, calling the services' HTTP APIs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.console import (
    admin,
    cad_roster,
    clinician,
    coordinator,
    i18n,
    inbox,
    leader,
    me,
    member,
    peer,
    public,
    roster,
    signin,
)
from services.console.backend import Backend
from services.console.oidc import Oidc
from services.console.security import headers
from services.console.sessions import Sessions
from services.console.settings import ConsoleSettings
from services.console.views import add_error_pages
from shared import entry
from shared.projection import Projection
from shared.service import http_task, ops_app, run_until_stopped
from shared.telemetry import http_telemetry
from shared.topology import Consumer


def create_app(
    settings: ConsoleSettings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`transport` routes the calls to the services elsewhere (tests mount the services' own apps)."""
    settings = settings or ConsoleSettings()
    # untraced: a sign-in's return address carries the identity provider's one-time code in its query
    app = FastAPI(
        title="Peerline console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=http_telemetry(traced=False),
    )
    app.state.settings = settings
    app.state.sessions = Sessions(settings.session_ttl_s)
    app.state.backend = Backend(settings.service_urls(), settings.http_timeout_s, transport)
    app.state.oidc = Oidc(settings, transport)
    app.state.translations = i18n.load()
    app.middleware("http")(headers)
    add_error_pages(app)
    for module in (
        public,
        signin,
        member,
        peer,
        inbox,
        me,
        coordinator,
        roster,
        cad_roster,
        clinician,
        leader,
        admin,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app


def projections(settings: ConsoleSettings | None = None) -> list[tuple[Projection, Consumer]]:
    """None: the console reads nothing from the log (it asks the services), so nothing is rebuilt."""
    return []


async def serve(settings: ConsoleSettings, stop: asyncio.Event) -> None:
    app = create_app(settings)
    tasks = [http_task(app, settings.http_host, settings.http_port)]
    if settings.metrics_port:
        tasks.append(
            http_task(ops_app("console", lambda: True), settings.metrics_host, settings.metrics_port)
        )
    await run_until_stopped(tasks, stop, settings.switch_interval_s)


def main() -> None:
    settings = ConsoleSettings()
    entry.run("console", settings, lambda stop: serve(settings, stop), projections, telemetry=False)
