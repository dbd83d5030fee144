"""Intake's HTTP API: requests, members and roster, CAD incidents. Thin routes in three modules."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import Engine

from services.intake.api import cad as cad_api
from services.intake.api import config as config_api
from services.intake.api import meet as meet_api
from services.intake.api import members as members_api
from services.intake.api import public as public_api
from services.intake.api import requests as requests_api
from services.intake.api.inflight import InFlight
from services.intake.api.ports import Ports
from services.intake.domain.policy import Policies
from services.intake.peercards import PeerCards
from services.intake.vault import Vault
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.codes import CodeLists
from shared.eventstore import EventStore
from shared.httpapi import service_api
from shared.limits import HttpLimits


def build_api(
    store: Callable[[], EventStore],
    engine: Engine,
    auth: Auth,
    vault: Vault,
    policies: Policies | None = None,
    *,
    clock: Clock | None = None,
    limits: HttpLimits | None = None,
    max_inflight: int = 256,
    codes: CodeLists | None = None,
    cards: PeerCards | None = None,
) -> FastAPI:
    api = service_api(
        "Peerline intake",
        "Requests for peer support, the identity vault, and critical incidents from dispatch. "
        "CAD over NATS (`cad.<agency>.incident`) is described in docs/asyncapi.json and docs/cad.md.",
        auth,
        limits,
    )
    api.add_middleware(InFlight, limit=max_inflight)  # outermost: shed before any other work
    ports = Ports(
        store,
        engine,
        vault,
        policies or Policies(),
        auth,
        clock or SystemClock(),
        codes or CodeLists(),
        cards or PeerCards(),
    )

    @api.get("/healthz", tags=["ops"], dependencies=[Auth.open("a liveness probe: says nothing")])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    requests_api.add_routes(api, ports)
    meet_api.add_routes(api, ports)
    public_api.add_routes(api, ports)
    members_api.add_routes(api, ports)
    cad_api.add_routes(api, ports)
    config_api.add_routes(api, ports)
    return api
