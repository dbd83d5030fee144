"""Intake's composition root: nothing connects until `run`.

`python -m services.intake` runs the service; `… replay` rebuilds its projections; `… rotate-kek`
rewraps every vault key under the current KEK (with the old one in PEERLINE_PREVIOUS_KEK_FILES);
`… asyncapi` prints the AsyncAPI document of the CAD interface.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from nats.js.errors import NotFoundError

from services.intake.api import build_api
from services.intake.commands.dispatch import Dispatch
from services.intake.commands.site_requests import SiteRequests
from services.intake.domain.policy import Policies
from services.intake.peercards import PeerCards
from services.intake.projection import CaseProjection, Shred
from services.intake.settings import IntakeSettings
from services.intake.vault import Vault, vault_engine
from services.intake.vault.reveal import Revealer
from shared import entry
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.codes import CodeLists
from shared.consumers.intake import CAD_INBOX
from shared.db import make_engine
from shared.eventstore import EventStore
from shared.projection import Projection, ensure_schema
from shared.runner import ProjectionRunner
from shared.service import Task, connect_nats, http_task, ops_app, run_until_stopped
from shared.topology import Consumer, consumer

log = logging.getLogger("peerline.intake")


class Intake:
    def __init__(
        self, settings: IntakeSettings, auth: Auth | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url())
        self.vault = Vault(vault_engine(settings.vault_db_url()), settings.keyring())
        self.policies = Policies.load(settings.agency_policy_file)
        self.codes = CodeLists.load(settings.codes_file)
        self.auth = auth or Auth.from_settings(
            settings.jwt_public_key_file, settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience
        )
        self._store: EventStore | None = None
        self.cards = PeerCards()
        self.api: FastAPI = build_api(
            self.store,
            self.engine,
            self.auth,
            self.vault,
            self.policies,
            clock=clock or SystemClock(),
            limits=settings.http_limits(),
            codes=self.codes,
            max_inflight=settings.max_inflight,
            cards=self.cards,
        )
        self.ready = False

    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("intake is not connected yet")
        return self._store

    async def run(self, stop: asyncio.Event) -> None:
        if self.settings.previous_kek_files:
            rewrapped = await asyncio.to_thread(self.vault.rotate)
            log.info("vault: %d keys rewrapped under the current KEK", rewrapped)
        nc = await connect_nats(self.settings)
        js = nc.jetstream()
        self._store = EventStore(js)
        self.cards.connect(nc)
        [(view, source)] = projections(self.settings, self.vault.callbacks.shred)
        await asyncio.to_thread(ensure_schema, self.engine, view)  # readable before it runs
        cases = ProjectionRunner(js, self.engine, view, source)
        reveal = await Revealer(self._store, self.vault).serve(nc)
        tasks: list[Task] = [cases.run, http_task(self.api, self.settings.http_host, self.settings.http_port)]
        try:
            await js.stream_info(CAD_INBOX)
        except NotFoundError:
            log.error("stream %s is not provisioned: CAD over NATS is off (HTTP still works)", CAD_INBOX)
        else:
            tasks.append(self.cad_inbox)
        self.ready = True
        if self.settings.metrics_port:
            ops = ops_app("intake", lambda: self.ready and nc.is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop, self.settings.switch_interval_s)
        finally:
            await reveal.unsubscribe()
            await nc.close()

    async def cad_inbox(self, stop: asyncio.Event) -> None:
        """The CAD inbox reaction. Imported here, once intake serves: faststream costs a second of start-up
        on a busy machine, and readiness does not wait for the CAD inbox (its durable keeps what arrives)."""
        from services.intake import reactions as inbox
        from shared.reactor import Reactions

        policies = inbox.policy(self.settings.cad_max_deliveries)
        cad = Reactions(self.settings, inbox.routes(), policies=policies)
        cad.provide(
            dispatch=Dispatch(self.store(), self.vault, self.policies),
            requests=SiteRequests(self.store(), self.codes),  # taken at agency sites (shared.leafnode)
        )
        await cad.run(stop)


def create_app(settings: IntakeSettings | None = None, **overrides: object) -> Intake:
    return Intake(settings or IntakeSettings(), **overrides)  # type: ignore[arg-type]


def projections(
    settings: IntakeSettings | None = None, shred: Shred | None = None
) -> list[tuple[Projection, Consumer]]:
    """`shred` drops a closed case's callback from the vault: the live service's, never a replay's."""
    return [(CaseProjection(shred), consumer("intake-cases"))]


def rotate_kek(settings: IntakeSettings) -> None:
    count = Vault(vault_engine(settings.vault_db_url()), settings.keyring()).rotate()
    print(f"{count} keys rewrapped under the current KEK; the old KEK may now be retired")


def asyncapi() -> None:
    from services.intake.asyncapi import document_json

    print(document_json(), end="")


def main() -> None:
    settings = IntakeSettings()
    commands = {"rotate-kek": lambda: rotate_kek(settings), "asyncapi": asyncapi}
    entry.run("intake", settings, lambda stop: create_app(settings).run(stop), projections, commands)
