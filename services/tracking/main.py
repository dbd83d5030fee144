"""Tracking's composition root: nothing connects until `run`."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.tracking.api import build_api
from services.tracking.projection.audit import AuditProjection
from services.tracking.projection.trends import TrendsProjection
from services.tracking.settings import TrackingSettings
from shared import entry
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.codes import CodeLists
from shared.db import make_engine
from shared.eventstore import EventStore
from shared.projection import Projection
from shared.runner import ProjectionRunner
from shared.service import Task, connect_nats, http_task, ops_app, run_until_stopped
from shared.topology import Consumer, consumer


class Tracking:
    def __init__(
        self, settings: TrackingSettings, auth: Auth | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url())
        self.auth = auth or Auth.from_settings(
            settings.jwt_public_key_file, settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience
        )
        self.clock = clock or SystemClock()
        self._store: EventStore | None = None
        self.api: FastAPI = build_api(self.store, self.engine, self.auth, settings, self.clock)
        self.ready = False

    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("tracking is not connected yet")
        return self._store

    async def run(self, stop: asyncio.Event) -> None:
        nc = await connect_nats(self.settings)
        js = nc.jetstream()
        self._store = EventStore(js)
        runners = [ProjectionRunner(js, self.engine, p, c) for p, c in projections(self.settings)]
        for runner in runners:
            await runner.start()
        self.ready = True
        tasks: list[Task] = [r.run for r in runners]
        tasks.append(http_task(self.api, self.settings.http_host, self.settings.http_port))
        if self.settings.metrics_port:
            ops = ops_app("tracking", lambda: self.ready and nc.is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop, self.settings.switch_interval_s)
        finally:
            await nc.close()


def create_app(settings: TrackingSettings | None = None, **overrides: object) -> Tracking:
    return Tracking(settings or TrackingSettings(), **overrides)  # type: ignore[arg-type]


def projections(settings: TrackingSettings | None = None) -> list[tuple[Projection, Consumer]]:
    codes = CodeLists.load((settings or TrackingSettings()).codes_file)
    return [
        (TrendsProjection(codes), consumer("tracking-trends")),
        (AuditProjection(), consumer("tracking-audit")),
    ]


def main() -> None:
    settings = TrackingSettings()
    entry.run("tracking", settings, lambda stop: create_app(settings).run(stop), projections)
