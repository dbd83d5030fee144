"""Matching's composition root: nothing connects until `run`."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from fastapi import FastAPI

from services.matching.api import build_api
from services.matching.api import peer as peer_api
from services.matching.cards import Cards
from services.matching.commands.assigner import Assigner
from services.matching.commands.directory import Directory
from services.matching.profiles import Profiles, profile_key
from services.matching.projection import DirectoryProjection
from services.matching.reactions import assignments
from services.matching.settings import MatchingSettings
from services.matching.tables import timers
from shared import entry
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.codes import CodeLists
from shared.consumers.matching import directory_replica
from shared.db import make_engine
from shared.decision import fired
from shared.projection import Projection, ensure_schema
from shared.runner import ProjectionRunner
from shared.service import Task, connect_nats, http_task, ops_app, run_until_stopped
from shared.timers import Attempts, Timer, TimerLoop, dead_letters
from shared.topology import Consumer, consumer


class Matching:
    def __init__(
        self, settings: MatchingSettings, auth: Auth | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = make_engine(settings.db_url())
        [(self.projection, self.source)] = projections(settings)
        self.assigner = Assigner(self.engine, self.clock, settings.policy, settings.directory_consumer)
        self.directory = Directory(self.clock)
        self.auth = auth or Auth.from_settings(
            settings.jwt_public_key_file, settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience
        )
        self.api: FastAPI = build_api(
            self.directory,
            self.assigner,
            self.engine,
            self.auth,
            settings.http_limits(),
            CodeLists.load(settings.codes_file),
        )
        profiles = Profiles(self.engine, profile_key(settings.profile_key_file, settings.var_dir))
        peer_api.add_routes(self.api, self.engine, self.auth, profiles)
        self.cards = Cards(self.engine, profiles)
        self.timers = TimerLoop(
            self.engine,
            timers,
            self.clock,
            self.fire,
            poll_s=settings.timer_poll_s,
            attempts=Attempts(give_up=dead_letters(lambda: self.assigner.js, settings.directory_consumer)),
        )
        self.ready = False

    async def fire(self, timer: Timer) -> bool:
        """A due timer: expire an unanswered offer, match a case left waiting, hand on a case from a peer
        deselected or on a break, or remind a peer."""
        if timer.kind == "expire":
            return bool(
                await self.assigner.expire(timer.agency, timer.aggregate_id, timer.data["assignment_id"])
            )
        if timer.kind == "assign":
            return bool(await self.assigner.reassign(timer.agency, timer.aggregate_id, fired(timer)))
        if timer.kind == "handon":
            data = timer.data
            return bool(
                await self.assigner.hand_on(
                    timer.agency,
                    timer.aggregate_id,
                    data["peer_ref"],
                    data["why"],
                    fired(timer),
                )
            )
        if timer.kind == "remind":
            data = timer.data
            return await self.directory.remind(
                timer.agency, timer.aggregate_id, data["due_by"], data["confirmed_at"]
            )
        return False

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a stop during start-up is a clean stop too
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await asyncio.to_thread(ensure_schema, self.engine, self.projection)
        nc = await connect_nats(self.settings)
        js = nc.jetstream()
        self.assigner.connect(nc)
        self.directory.connect(nc)
        runner = ProjectionRunner(js, self.engine, self.projection, self.source)
        await runner.start()
        await runner.catch_up()  # assign only once the directory is current
        reactors = [
            assignments(nc, self.assigner, s.max_deliveries, s.reactor_batch, s.reactor_in_flight)
            for s in [self.settings] * max(1, self.settings.reactor_loops)
        ]
        for reactor in reactors:
            await reactor.start()
        if stop.is_set():
            await nc.close()
            return
        cards = await self.cards.serve(nc)
        self.ready = True
        tasks: list[Task] = [runner.run, self.timers.run, *(r.run for r in reactors)]
        if self.settings.http_port:
            tasks.append(http_task(self.api, self.settings.http_host, self.settings.http_port))
        if self.settings.metrics_port:
            ops = ops_app("matching", lambda: self.ready and nc.is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop, self.settings.switch_interval_s)
        finally:
            await cards.unsubscribe()
            await nc.close()


def directory_consumer(durable: str) -> Consumer:
    return consumer(durable) if durable == "matching-directory" else directory_replica(durable)


def create_app(settings: MatchingSettings | None = None, **overrides: object) -> Matching:
    return Matching(settings or MatchingSettings(), **overrides)  # type: ignore[arg-type]


def projections(settings: MatchingSettings | None = None) -> list[tuple[Projection, Consumer]]:
    s = settings or MatchingSettings()
    return [
        (DirectoryProjection(s.policy, name=s.directory_consumer), directory_consumer(s.directory_consumer))
    ]


def main() -> None:
    settings = MatchingSettings()
    entry.run("matching", settings, lambda stop: create_app(settings).run(stop), projections)
