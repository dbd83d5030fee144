"""Escalation's composition root: nothing connects until `run`.

`python -m services.escalation` runs the service; `… replay` rebuilds its read model from the log;
`… audit verify` checks the audit trail against the log (exit 1 on any altered or missing record).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI
from nats.aio.client import Client
from rich.console import Console

from services.escalation.api import audit as audit_api
from services.escalation.api import build_api
from services.escalation.commands import Commands
from services.escalation.domain.policies import DEMO_REGION
from services.escalation.pages import Pager
from services.escalation.projection import EscalationProjection
from services.escalation.projection.verify import verify
from services.escalation.reactions import risk_flags, routes
from services.escalation.settings import EscalationSettings
from services.escalation.tables import timers
from shared import entry
from shared.auth import Auth
from shared.batches import BatchReaction
from shared.clock import Clock, SystemClock
from shared.db import make_engine
from shared.eventstore import EventStore
from shared.projection import Projection, ensure_schema
from shared.reactor import Policy, Reactions
from shared.runner import LINGER_S, ProjectionRunner
from shared.service import Task, connect_nats, http_task, ops_app, run_until_stopped
from shared.timers import Attempts, TimerLoop, dead_letters
from shared.topology import Consumer, consumer


class Escalation:
    def __init__(
        self, settings: EscalationSettings, auth: Auth | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = make_engine(settings.db_url())
        self.auth = auth or Auth.from_settings(
            settings.jwt_public_key_file, settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience
        )
        self._store: EventStore | None = None
        self._nc: Client | None = None
        router, _ = routes(lambda: self.commands)
        self.commands = Commands(
            self.store, self.nc, self.clock, settings.reveal_timeout_s, page=Pager(self.nc).send
        )
        self.reactions = Reactions(settings, router, policy=Policy(settings.max_deliveries))
        self.api: FastAPI = build_api(lambda: self.commands, self.engine, self.auth, settings.http_limits())
        audit_api.add_routes(self.api, self.engine, self.auth, self.nc)
        self.timers = TimerLoop(
            self.engine,
            timers,
            self.clock,
            self.commands.fire,
            poll_s=settings.timer_poll_s,
            retry_after=timedelta(seconds=settings.timer_retry_s),
            attempts=Attempts(give_up=dead_letters(lambda: self.store().js, "escalation-view")),
        )
        self.ready = False
        self._flags: tuple[BatchReaction, asyncio.Event, asyncio.Task[None]] | None = None

    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("escalation is not connected yet")
        return self._store

    def nc(self) -> Client:
        if self._nc is None:
            raise RuntimeError("escalation is not connected yet")
        return self._nc

    async def start(self) -> ProjectionRunner:
        """Connect, bind the view's consumer, seed the demo policies if absent; reactors start last."""
        [(view, source)] = projections()
        await asyncio.to_thread(ensure_schema, self.engine, view)
        js = await self.reactions.connect()
        self._nc = self.reactions.broker.connection
        self._store = EventStore(js)
        runner = ProjectionRunner(js, self.engine, view, source, linger_s=LINGER_S)  # see shared.runner
        await runner.start()
        if self.settings.seed_demo_policies:
            for agency, policy in DEMO_REGION.items():
                await self.commands.seed_policy(agency, policy)
        await runner.catch_up()
        await self.reactions.start()
        flags = risk_flags(
            self.nc(), lambda: self.commands, self.settings.risk_flag_category, self.settings.max_deliveries
        )
        await flags.start()
        stop = asyncio.Event()
        self._flags = (flags, stop, asyncio.create_task(flags.run(stop)))
        return runner

    async def stop_reactions(self) -> None:
        """Stop reacting: the risk-flag reaction finishes what it has fetched; the durables stay."""
        if self._flags is not None:
            _, stop, task = self._flags
            self._flags = None
            stop.set()
            await asyncio.wait([task])  # ended already, with a failure flags_running reported, or now
        await self.reactions.stop()

    async def flags_running(self, stop: asyncio.Event) -> None:
        """Supervise the risk-flag reaction (started before the service is ready) with the other tasks:
        if it ends before `stop`, the service stops with an error and is restarted, never left up
        without paging anyone."""
        if self._flags is None:
            raise RuntimeError("the risk-flag reaction was never started")
        task = self._flags[2]
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if stop.is_set():
            return
        failure = None if task.cancelled() else task.exception()
        raise RuntimeError("the risk-flag reaction stopped") from failure

    async def run(self, stop: asyncio.Event) -> None:
        runner = await self.start()
        self.ready = True
        tasks: list[Task] = [
            runner.run,
            self.flags_running,
            self.timers.run,
            http_task(self.api, self.settings.http_host, self.settings.http_port),
        ]
        if self.settings.metrics_port:
            ops = ops_app("escalation", lambda: self.ready and self.nc().is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop, self.settings.switch_interval_s)
        finally:
            await self.stop_reactions()


def create_app(settings: EscalationSettings | None = None, **overrides: object) -> Escalation:
    return Escalation(settings or EscalationSettings(), **overrides)  # type: ignore[arg-type]


def projections(settings: EscalationSettings | None = None) -> list[tuple[Projection, Consumer]]:
    return [(EscalationProjection(), consumer("escalation-view"))]


async def audit_verify(settings: EscalationSettings) -> int:
    nc = await connect_nats(settings)
    try:
        verdict = await verify(nc.jetstream(), make_engine(settings.db_url()))
    finally:
        await nc.close()
    console = Console()
    for problem in verdict.problems:
        console.print(f"[red]{problem}")
    status = "[green]intact" if verdict.ok else f"[bold red]{len(verdict.problems)} problem(s)"
    console.print(f"audit trail: {verdict.records} records up to seq {verdict.checked_up_to_seq}: {status}")
    return 0 if verdict.ok else 1


def main() -> None:
    settings = EscalationSettings()
    commands = {"audit verify": lambda: asyncio.run(audit_verify(settings))}
    entry.run("escalation", settings, lambda stop: create_app(settings).run(stop), projections, commands)
