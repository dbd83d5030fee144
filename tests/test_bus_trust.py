"""The bus is a trust boundary: a denial matrix generated from the service list and the contracts.

For every service identity, every forbidden action (another producer's event subject, a CAD subject, the
vault's subject, another inbox, `>`, changing or deleting a stream, creating or deleting a consumer,
another service's durable) fails with a permissions violation and changes nothing, and every action the
service needs works. A client without a credential, or with a key the server does not know, is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from shared import buspolicy
from shared.buscreds import ensure_seeds
from shared.consumers.intake import CAD_INBOX
from shared.contracts.intake import REVEAL_SUBJECT
from shared.contracts.matching import PEER_CARD_SUBJECT
from shared.envelope import STREAM
from shared.natsserver import NatsServer
from shared.topology import DLQ_STREAM, events_stream, provision
from tests.support.bus import connect, start_server

pytestmark = pytest.mark.integration

SERVICES = buspolicy.services()
EVENTS = buspolicy.produced_events()
DURABLES = buspolicy.durables()
SEEDED = 10  # events in the log before anyone tries anything


@dataclass
class Probe:
    """A client as one identity that records the permission violations the server reports."""

    nc: Client
    violations: list[str] = field(default_factory=list)

    async def denied(self, action: Callable[[], Awaitable[Any]], what: str) -> None:
        before = len(self.violations)
        with contextlib.suppress(Exception):  # a denied request just never gets its answer
            await action()
        with contextlib.suppress(Exception):
            await self.nc.flush(timeout=2)
        for _ in range(80):
            if len(self.violations) > before:
                break
            await asyncio.sleep(0.025)
        new = self.violations[before:]
        assert any("permissions violation" in v.lower() for v in new), f"{what} was not refused: {new}"


@contextlib.asynccontextmanager
async def probe(url: str, user: str) -> AsyncIterator[Probe]:
    violations: list[str] = []

    async def on_error(exc: Exception) -> None:
        violations.append(str(exc))

    nc = await connect(url, user, error_cb=on_error, allow_reconnect=False)
    p = Probe(nc, violations)
    try:
        yield p
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsServer]:
    s = start_server(tmp_path_factory.mktemp("bus"))
    yield s  # type: ignore[misc]
    s.stop()


@pytest.fixture(scope="module")
async def log(server: NatsServer) -> str:
    nc = await connect(server.url, "provisioner")
    await provision(nc.jetstream())
    await nc.close()
    nc = await connect(server.url)
    for i in range(SEEDED):
        await nc.jetstream().publish(f"ev.a1.case.c-{i}.support_requested", b"{}", stream=STREAM)
    await nc.close()
    return server.url


async def log_state(url: str) -> tuple[int, int, bool, set[str]]:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        durables = {c.name for c in await js.consumers_info(STREAM)}
        return info.state.messages, info.config.max_msgs or -1, bool(info.config.sealed), durables
    finally:
        await nc.close()


def other_event_subject(service: str) -> str:
    other = next(s for s in SERVICES if s != service and EVENTS.get(s))
    aggregate, name = sorted(EVENTS[other])[0]
    return f"ev.a1.{aggregate}.x-1.{name}"


def others_durable(service: str) -> str:
    return next(d for s in SERVICES if s != service for d in DURABLES.get(s, ()))


def api(nc: Client, subject: str, body: dict[str, Any] | None = None) -> Callable[[], Awaitable[Any]]:
    """A JetStream API request (its answer, if one came, would go to the client's own inbox)."""
    return lambda: nc.publish(subject, json.dumps(body or {}).encode(), reply=nc.new_inbox())


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_identity_may_do_nothing_it_does_not_need(log: str, service: str) -> None:
    before = await log_state(log)
    async with probe(log, service) as p:
        nc = p.nc
        await p.denied(lambda: nc.publish(other_event_subject(service), b"{}"), "another producer's event")
        await p.denied(lambda: nc.publish("cad.a1.incident", b"{}"), "a CAD subject")
        if service != "escalation":
            await p.denied(lambda: nc.request(REVEAL_SUBJECT, b"{}", timeout=0.5), "asking the vault")
        await p.denied(lambda: nc.subscribe(">"), "subscribing to everything")
        await p.denied(lambda: nc.subscribe("_INBOX.>"), "every inbox")
        other = next(s for s in SERVICES if s != service)
        await p.denied(lambda: nc.subscribe(f"_INBOX.{other}.>"), "another service's inbox")
        await p.denied(lambda: nc.subscribe("ev.>"), "the log's subjects")
        if service != "intake":
            await p.denied(lambda: nc.subscribe(REVEAL_SUBJECT, queue="intake-vault"), "answering the vault")
            await p.denied(
                lambda: nc.request(PEER_CARD_SUBJECT, b"{}", timeout=0.5), "asking for a peer card"
            )
        if service != "matching":
            await p.denied(lambda: nc.subscribe(PEER_CARD_SUBJECT, queue="matching-cards"), "answering it")
        shrink = {"name": STREAM, "subjects": ["ev.>"], "max_msgs": 1}
        await p.denied(api(nc, f"$JS.API.STREAM.UPDATE.{STREAM}", shrink), "shrinking the log")
        await p.denied(api(nc, f"$JS.API.STREAM.UPDATE.{STREAM}", {"sealed": True}), "sealing the log")
        await p.denied(api(nc, f"$JS.API.STREAM.PURGE.{STREAM}"), "purging the log")
        await p.denied(api(nc, f"$JS.API.STREAM.DELETE.{STREAM}"), "deleting the log")
        await p.denied(api(nc, "$JS.API.STREAM.CREATE.EVIL", {"subjects": ["evil.>"]}), "a new stream")
        own = DURABLES.get(service, ("x",))[0]
        await p.denied(api(nc, f"$JS.API.CONSUMER.DELETE.{STREAM}.{own}"), "deleting its durable")
        await p.denied(api(nc, f"$JS.API.CONSUMER.CREATE.{STREAM}.evil"), "creating a consumer")
        await p.denied(api(nc, f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.evil"), "a durable (old API)")
        theirs = others_durable(service)
        await p.denied(api(nc, f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{theirs}"), "another's durable")
        await p.denied(api(nc, f"$JS.API.CONSUMER.INFO.{STREAM}.{theirs}"), "another's durable info")
        await p.denied(lambda: nc.publish(f"dlq.{theirs}", b"x"), "another's dead letters")
    assert await log_state(log) == before


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_identity_can_do_everything_it_needs(log: str, service: str) -> None:
    async with probe(log, service) as p:
        js = p.nc.jetstream()
        assert (await js.stream_info(STREAM)).state.messages >= SEEDED
        first = await js.get_msg(STREAM, seq=1, direct=True)
        assert first.subject.startswith("ev.")
        for aggregate, name in sorted(EVENTS.get(service, ())):
            ack = await js.publish(f"ev.a2.{aggregate}.t-{service}.{name}", b"{}", stream=STREAM)
            assert ack.seq > SEEDED
        for durable in DURABLES.get(service, ()):
            assert (await js.consumer_info(STREAM, durable)).name == durable
            sub = await js.pull_subscribe_bind(durable, stream=STREAM)
            with contextlib.suppress(nats.errors.TimeoutError):
                for msg in await sub.fetch(1, timeout=1):
                    await msg.nak()  # leave it for the real service
            await sub.unsubscribe()
            ack = await js.publish(f"dlq.{durable}", b"x", stream=DLQ_STREAM)
            assert ack.stream == DLQ_STREAM
        if service == "intake":
            assert (await js.stream_info(CAD_INBOX)).config.name == CAD_INBOX
        assert not p.violations


async def test_only_escalation_asks_the_vault_and_only_intake_answers_it(log: str) -> None:
    async with probe(log, "intake") as vault:
        answered: list[bytes] = []

        async def answer(msg: nats.aio.msg.Msg) -> None:
            answered.append(msg.data)
            await msg.respond(b"ok")

        await vault.nc.subscribe(REVEAL_SUBJECT, queue="intake-vault", cb=answer)
        await vault.denied(
            lambda: vault.nc.subscribe(REVEAL_SUBJECT), "listening to the vault outside its queue"
        )
        await vault.denied(lambda: vault.nc.publish("_INBOX.escalation.x", b"forged"), "writing to an inbox")
        await vault.nc.flush()
        async with probe(log, "escalation") as esc:
            reply = await esc.nc.request(REVEAL_SUBJECT, b"ask", timeout=2)
            assert reply.data == b"ok" and answered == [b"ask"]


async def test_only_intake_asks_who_accepted_a_case_and_only_matching_answers(log: str) -> None:
    async with probe(log, "matching") as matching:

        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"card")

        await matching.nc.subscribe(PEER_CARD_SUBJECT, queue="matching-cards", cb=answer)
        await matching.denied(lambda: matching.nc.subscribe(PEER_CARD_SUBJECT), "listening outside its queue")
        await matching.nc.flush()
        async with probe(log, "intake") as intake:
            assert (await intake.nc.request(PEER_CARD_SUBJECT, b"ask", timeout=2)).data == b"card"
            assert not intake.violations


async def test_a_cad_identity_speaks_only_for_its_own_agency(log: str) -> None:
    async with probe(log, "cad-a1") as p:
        js = p.nc.jetstream()
        ack = await js.publish("cad.a1.incident", b"{}", stream=CAD_INBOX)
        assert ack.stream == CAD_INBOX
        await p.denied(lambda: p.nc.publish("cad.a2.incident", b"{}"), "another agency's incidents")
        await p.denied(
            lambda: p.nc.publish("ev.a1.incident.i-1.critical_incident_reported", b"{}"), "an event"
        )
        await p.denied(lambda: p.nc.subscribe("cad.>"), "reading CAD documents")


async def test_the_notifications_reader_reads_notices_and_writes_nothing(log: str) -> None:
    async with probe(log, "notifications") as p:
        await p.nc.subscribe("notify.>")
        await p.nc.flush()
        await p.denied(lambda: p.nc.publish("notify.a1.clinician", b"forged"), "a forged notice")
        await p.denied(lambda: p.nc.subscribe("cad.>"), "raw CAD documents")
        assert len(p.violations) == 2


async def test_the_provisioner_cannot_delete_purge_seal_or_shrink_the_log(log: str) -> None:
    before = await log_state(log)
    async with probe(log, "provisioner") as p:
        js = p.nc.jetstream()
        await provision(js)  # running it again is fine: the log already has this release's settings
        shrink = {"name": STREAM, "subjects": ["ev.>"], "max_msgs": 1}
        await p.denied(api(p.nc, f"$JS.API.STREAM.UPDATE.{STREAM}", shrink), "shrinking the log")
        await p.denied(api(p.nc, f"$JS.API.STREAM.PURGE.{STREAM}"), "purging the log")
        await p.denied(api(p.nc, f"$JS.API.STREAM.DELETE.{STREAM}"), "deleting the log")
        await p.denied(api(p.nc, f"$JS.API.STREAM.MSG.DELETE.{STREAM}", {"seq": 1}), "deleting an event")
        await p.denied(lambda: p.nc.publish("ev.a1.case.c-9.support_requested", b"{}"), "appending")
        capture = {"name": "EVIL", "subjects": ["_INBOX.>", "notify.>"]}
        await p.denied(api(p.nc, "$JS.API.STREAM.CREATE.EVIL", capture), "a stream capturing replies")
        widen = {"name": DLQ_STREAM, "subjects": ["dlq.>", "_INBOX.>"]}
        await p.denied(api(p.nc, f"$JS.API.STREAM.UPDATE.{DLQ_STREAM}", widen), "widening a stream")
        await p.denied(api(p.nc, f"$JS.API.CONSUMER.CREATE.{STREAM}.evil"), "an undeclared consumer")
        theirs = others_durable("provisioner")
        await p.denied(api(p.nc, f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{theirs}"), "reading a durable")
    assert await log_state(log) == before


async def test_provisioning_refuses_to_change_the_log_quietly(log: str) -> None:
    from shared.topology import StreamSettingsDiffer, ensure_stream

    async with probe(log, "provisioner") as p:
        with pytest.raises(StreamSettingsDiffer):
            await ensure_stream(p.nc.jetstream(), events_stream(replicas=1).evolve(max_msgs=5))
    assert (await log_state(log))[1] == -1


async def test_replay_reads_the_whole_log_and_writes_nothing(log: str) -> None:
    async with probe(log, "replay") as p:
        js = p.nc.jetstream()
        got: list[str] = []
        sub = await js.subscribe("ev.>", stream=STREAM, ordered_consumer=True, cb=None)
        for _ in range(SEEDED):
            got.append((await sub.next_msg(timeout=2)).subject)
        await sub.unsubscribe()
        assert len(got) == SEEDED
        await p.denied(lambda: p.nc.publish("ev.a1.case.c-9.support_requested", b"{}"), "appending")
        await p.denied(api(p.nc, f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.evil"), "a durable")


async def test_no_credential_or_an_unknown_key_is_refused(log: str, tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(log, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    stranger = ensure_seeds(tmp_path, ["stranger"])["stranger"]
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(
            log, nkeys_seed=str(stranger), allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )


async def test_a_rotated_credential_is_refused_after_a_reload_and_its_connection_cut(tmp_path: Path) -> None:
    server = start_server(tmp_path / "nats")
    try:
        old = tmp_path / "old.nk"
        old.write_bytes(server.seed("tracking").read_bytes())
        closed = asyncio.Event()

        async def on_closed() -> None:
            closed.set()

        holder = await nats.connect(
            server.url,
            nkeys_seed=str(old),
            allow_reconnect=False,
            closed_cb=on_closed,
            inbox_prefix="_INBOX.tracking",
        )
        server.seed("tracking").unlink()  # rotate: a new seed is made when the config is rendered
        server.reload()
        await asyncio.wait_for(closed.wait(), 10)
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(
                server.url, nkeys_seed=str(old), allow_reconnect=False, max_reconnect_attempts=0
            )
        fresh = await connect(server.url, "tracking")
        await fresh.flush()
        assert fresh.is_connected
        await fresh.close()
        assert holder.is_closed
    finally:
        server.stop()
