"""Matching's composition root: nothing connects until `run`."""

from __future__ import annotations

import asyncio
import sys

from services.matching.app import Assigner, build_broker
from services.matching.projection import DirectoryProjection
from services.matching.settings import MatchingSettings
from shared.db import make_engine
from shared.projection import Projection, ProjectionRunner, ensure_schema
from shared.replay import rebuild_all
from shared.service import Task, http_task, ops_app, run_until_stopped
from shared.telemetry import configure_logging, configure_telemetry
from shared.topology import Consumer, consumer


class Matching:
    def __init__(self, settings: MatchingSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url())
        self.assigner = Assigner(self.engine)
        self.broker = build_broker(settings.nats_url, self.assigner, settings.max_deliveries)
        self.ready = False

    async def run(self, stop: asyncio.Event) -> None:
        directory = DirectoryProjection()
        await asyncio.to_thread(ensure_schema, self.engine, directory)
        await self.broker.connect()
        js = self.broker.connection.jetstream()
        self.assigner.connect(js)
        runner = ProjectionRunner(js, self.engine, directory, consumer("matching-directory"))

        async def assign(stop: asyncio.Event) -> None:
            await runner.caught_up()  # assign only once the directory is current
            await self.broker.start()
            self.ready = True
            await stop.wait()

        tasks: list[Task] = [runner.run, assign]
        if self.settings.metrics_port:
            ops = ops_app("matching", lambda: self.ready and self.broker.connection.is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop)
        finally:
            await self.broker.stop()


def create_app(settings: MatchingSettings | None = None) -> Matching:
    return Matching(settings or MatchingSettings())


def projections() -> list[tuple[Projection, Consumer]]:
    return [(DirectoryProjection(), consumer("matching-directory"))]


def main() -> None:
    settings = MatchingSettings()
    configure_logging(settings.log_level)
    if sys.argv[1:] == ["replay"]:
        asyncio.run(rebuild_all(settings.nats_url, make_engine(settings.db_url()), projections()))
        return
    configure_telemetry("matching", settings.otlp_endpoint)
    asyncio.run(create_app(settings).run(asyncio.Event()))
