"""Notify's composition root: nothing connects until `run`.

The inbox (a projection runner on `notify-inbox`) queues notices and deliveries exactly once per event;
the dispatcher sends what is due; the outbox puts outcomes on the log. There is no `replay`: notify's
store holds what people entered (contact points, schedules) and what was already sent, and a replay
would send it all again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext

from services.notify.api import build_api
from services.notify.channels import Message, Sender
from services.notify.channels.email import SmtpSender
from services.notify.channels.push import PushSender, application_server_key, load_vapid
from services.notify.channels.sms import LoggingSmsAdapter, SmsSender
from services.notify.channels.webhook import WebhookSender
from services.notify.projection import Inbox
from services.notify.reactions.dispatcher import Dispatcher
from services.notify.reactions.outbox import Outbox
from services.notify.sealing import Sealer
from services.notify.settings import NotifySettings
from shared import entry
from shared.auth import Auth
from shared.clock import Clock, SystemClock
from shared.db import make_engine
from shared.dlq import dead_letter
from shared.eventstore import EventStore
from shared.items import Item
from shared.projection import Projection, ensure_schema
from shared.runner import ProjectionRunner
from shared.service import Task, connect_nats, http_task, ops_app, run_until_stopped
from shared.topology import Consumer, consumer

log = logging.getLogger("peerline.notify")
INBOX = consumer("notify-inbox")


class Notify:
    def __init__(
        self,
        settings: NotifySettings,
        auth: Auth | None = None,
        clock: Clock | None = None,
        senders: Mapping[str, Sender] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = make_engine(settings.db_url())
        self.auth = auth or Auth.from_settings(
            settings.jwt_public_key_file, settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience
        )
        self.sealer = Sealer(settings.key())
        self.vapid = load_vapid(settings.vapid_path())
        self.http = httpx.AsyncClient(timeout=settings.http_timeout_s, follow_redirects=False)
        self.senders = dict(senders) if senders is not None else self._senders()
        channels = tuple(c for c in settings.channels() if c in self.senders)
        self.inbox = Inbox(self.clock, channels, timedelta(seconds=settings.stale_after_s))
        self.dispatcher = Dispatcher(
            self.engine,
            self.sealer,
            self.senders,
            self.clock,
            self._dead_letter,
            backoff=settings.retry_backoff_s,
            link_base=settings.link_base,
        )
        self.api: FastAPI = build_api(
            self.engine,
            self.sealer,
            self.auth,
            self.clock,
            channels,
            lambda: application_server_key(self.vapid),
            self.dispatcher.wake.set,
            settings.http_limits(),
        )
        self._js: JetStreamContext | None = None
        self.ready = False

    def _senders(self) -> dict[str, Sender]:
        s = self.settings
        found: dict[str, Sender] = {
            "push": PushSender(self.http, self.vapid, s.vapid_subject),
            "webhook": WebhookSender(self.http),
        }
        if s.smtp_host:
            found["email"] = SmtpSender(
                s.smtp_host,
                s.smtp_port,
                s.smtp_sender,
                starttls=s.smtp_starttls,
                username=s.smtp_username,
                password=s.smtp_password,
            )
        if s.sms_adapter == "log":
            found["sms"] = SmsSender(LoggingSmsAdapter())
        return found

    async def _dead_letter(self, channel: str, message: Message, reason: str) -> None:
        """The message (generic text and link, no address) goes to PEERLINE_DLQ with the reason."""
        if self._js is None:
            return
        body = f'{{"delivery_id":"{message.id}","kind":"{message.kind}","channel":"{channel}"}}'.encode()
        await dead_letter(
            self._js,
            INBOX.durable,
            subject=f"notify.{channel}",
            seq=None,
            data=body,
            headers=None,
            reason=reason,
        )

    def _committed(self, _items: Sequence[Item]) -> None:
        self.dispatcher.wake.set()

    async def _deliver(self, stop: asyncio.Event, outbox: Outbox) -> None:
        """Send what is due, then put the outcomes on the log; woken by the inbox and the API."""
        await asyncio.to_thread(self.dispatcher.recover)
        wake = self.dispatcher.wake
        while not stop.is_set():
            wake.clear()
            try:
                while await self.dispatcher.tick():
                    await outbox.flush()
                await outbox.flush()
            except Exception:
                log.exception("notify: delivery round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.settings.poll_s)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(ensure_schema, self.engine, self.inbox)
        nc = await connect_nats(self.settings)
        self._js = nc.jetstream()
        outbox = Outbox(self.engine, EventStore(self._js), self.clock)
        runner = ProjectionRunner(self._js, self.engine, self.inbox, INBOX, on_committed=self._committed)
        await runner.start()
        self.ready = True
        tasks: list[Task] = [
            runner.run,
            lambda s: self._deliver(s, outbox),
            http_task(self.api, self.settings.http_host, self.settings.http_port),
        ]
        if self.settings.metrics_port:
            ops = ops_app("notify", lambda: self.ready and nc.is_connected)
            tasks.append(http_task(ops, self.settings.metrics_host, self.settings.metrics_port))
        try:
            await run_until_stopped(tasks, stop, self.settings.switch_interval_s)
        finally:
            await self.http.aclose()
            await nc.close()


def create_app(settings: NotifySettings | None = None, **overrides: object) -> Notify:
    return Notify(settings or NotifySettings(), **overrides)  # type: ignore[arg-type]


def projections(settings: NotifySettings | None = None) -> list[tuple[Projection, Consumer]]:
    """None: nothing notify keeps is rebuilt from the log (see the module docstring)."""
    return []


def main() -> None:
    settings = NotifySettings()
    entry.run("notify", settings, lambda stop: create_app(settings).run(stop), projections)
