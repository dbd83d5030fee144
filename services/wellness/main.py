"""Wellness's composition root: nothing connects until `run`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from fastapi import FastAPI

from services.wellness.api import build_api
from services.wellness.commands import Writer
from services.wellness.domain.policy import Policies
from services.wellness.projection import LOAD_INPUTS, SCHEDULES, WellnessProjection
from services.wellness.projection.warmup import warm_up
from services.wellness.reactions import Worker
from services.wellness.reactions.scheduler import Scheduler
from services.wellness.settings import WellnessSettings
from services.wellness.tables import timers
from shared import entry
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.db import make_engine
from shared.eventstore import EventStore
from shared.items import Item
from shared.projection import Projection
from shared.runner import ProjectionRunner
from shared.service import Task, connect_nats, http_task, ops_app, run_until_stopped
from shared.timers import Attempts, dead_letters
from shared.topology import Consumer, consumer

log = logging.getLogger("peerline.wellness")


async def first_of(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for w in waits:
        w.cancel()


class Wellness:
    def __init__(
        self,
        settings: WellnessSettings,
        auth: Auth | None = None,
        clock: Clock | None = None,
        policies: Policies | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.policies = policies or Policies.load(settings.policy_file)
        self.engine = make_engine(settings.db_url())
        self.auth = auth or Auth.from_settings(
            settings.jwt_public_key_file, settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience
        )
        self._store: EventStore | None = None
        self.writer = Writer(self.store, self.clock)
        self.worker = Worker(self.engine, self.writer, self.policies, self.clock)
        self.timers = Scheduler(
            self.engine,
            timers,
            self.clock,
            self.worker.fire,
            retry_after=timedelta(seconds=settings.timer_retry_s),
            concurrency=settings.timer_concurrency,
            attempts=Attempts(
                settings.timer_attempts, dead_letters(lambda: self.store().js, "wellness-view")
            ),
        )
        [(view, self.source)] = projections(settings, self.policies)
        self.projection = cast(WellnessProjection, view)
        self.api: FastAPI = build_api(
            self.writer, self.engine, self.auth, self.policies, self.clock, settings.http_limits()
        )
        self.wake = asyncio.Event()
        self.load_changed = asyncio.Event()
        self.ready = False

    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("wellness is not connected yet")
        return self._store

    def connect(self, store: EventStore) -> None:
        self._store = store

    def committed(self, items: Sequence[Item]) -> None:
        """After the view commits: wake the timers if it may have scheduled work, the sweep if load moved."""
        if any(isinstance(item.event, SCHEDULES) for item in items):
            self.wake.set()
        if any(isinstance(item.event, LOAD_INPUTS) for item in items):
            self.load_changed.set()

    async def run_timers(self, stop: asyncio.Event) -> None:
        """Fire due timers; wake at once when the view committed what may schedule one, else poll (timers
        due later, and retries, are found by the poll)."""
        while not stop.is_set():
            self.wake.clear()
            try:
                if await self.timers.tick():
                    continue
            except Exception:
                log.exception("timer tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.settings.timer_poll_s)

    async def run_sweeps(self, stop: asyncio.Event) -> None:
        """Re-evaluate peer load and breaks when their inputs changed, and periodically (counts move
        with time, cool-downs and breaks end)."""
        while not stop.is_set():
            self.load_changed.clear()
            try:
                await self.worker.sweep()
            except Exception:
                log.exception("load sweep failed; retrying")
            await first_of(stop, self.load_changed, timeout=self.settings.load_sweep_s)
            await asyncio.sleep(0.1)  # gather a burst of changes into one sweep

    def runner(self, js: object) -> ProjectionRunner:
        return ProjectionRunner(
            js,  # type: ignore[arg-type]
            self.engine,
            self.projection,
            self.source,
            on_committed=self.committed,
        )

    async def run(self, stop: asyncio.Event) -> None:
        nc = await connect_nats(self.settings)
        js = nc.jetstream()
        self.connect(EventStore(js))
        view = self.runner(js)
        await view.start()
        await asyncio.to_thread(warm_up, self.engine, self.projection, self.policies, self.clock)
        await asyncio.to_thread(self.timers.warm_up)
        self.ready = True
        tasks: list[Task] = [
            view.run,
            self.run_timers,
            self.run_sweeps,
            http_task(self.api, self.settings.http_host, self.settings.http_port),
        ]
        if self.settings.metrics_port:
            ops = ops_app("wellness", lambda: self.ready and nc.is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop, self.settings.switch_interval_s)
        finally:
            await nc.close()


def create_app(settings: WellnessSettings | None = None, **overrides: object) -> Wellness:
    return Wellness(settings or WellnessSettings(), **overrides)  # type: ignore[arg-type]


def projections(
    settings: WellnessSettings | None = None, policies: Policies | None = None
) -> list[tuple[Projection, Consumer]]:
    policies = policies or Policies.load((settings or WellnessSettings()).policy_file)
    return [(WellnessProjection(policies), consumer("wellness-view"))]


def main() -> None:
    settings = WellnessSettings()
    entry.run("wellness", settings, lambda stop: create_app(settings).run(stop), projections)
