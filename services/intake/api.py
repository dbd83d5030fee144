"""Intake's HTTP API: requests, members and roster, CAD incidents. Thin routes in three modules."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from sqlalchemy import Engine

from services.intake import cad_api, meet_api, members_api, requests_api
from services.intake.inflight import InFlight
from services.intake.limits import Limits, RateLimiter
from services.intake.peercards import PeerCards
from services.intake.policy import Policies
from services.intake.ports import Ports
from services.intake.vault import Vault
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.eventstore import EventStore

log = logging.getLogger("peerline.intake")


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field, without echoing the values (they may be someone's identity)."""
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


async def _log_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The log could not take the write (NATS restarting, unreachable): nothing was accepted, say so."""
    log.warning("event log unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "the event log is unavailable; nothing was recorded — try again shortly"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


def build_api(
    store: Callable[[], EventStore],
    engine: Engine,
    auth: Auth,
    vault: Vault,
    policies: Policies | None = None,
    *,
    clock: Clock | None = None,
    max_body: int = 64 * 1024,
    limiter: RateLimiter | None = None,
    max_inflight: int = 256,
    cards: PeerCards | None = None,
) -> FastAPI:
    api = FastAPI(
        title="Peerline intake",
        version="1",
        description=(
            "Requests for peer support, the identity vault, and critical incidents from dispatch. "
            "CAD over NATS (`cad.<agency>.incident`) is described in docs/asyncapi.json and docs/cad.md."
        ),
    )
    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(NatsError, _log_unavailable)
    api.add_exception_handler(TimeoutError, _log_unavailable)
    api.add_middleware(Limits, max_body=max_body, limiter=limiter or RateLimiter(1200, 100))
    api.add_middleware(InFlight, limit=max_inflight)  # outermost: shed before any other work
    ports = Ports(
        store, engine, vault, policies or Policies(), auth, clock or SystemClock(), cards or PeerCards()
    )

    @api.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    requests_api.add_routes(api, ports)
    meet_api.add_routes(api, ports)
    members_api.add_routes(api, ports)
    cad_api.add_routes(api, ports)
    return api
