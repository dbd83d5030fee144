"""The restore drill of docs/deploy.md, end to end: the region loses its database server and every read
model; the identity vault comes back from a `pg_dump`, every projection is rebuilt from the event log
the way the services' own `replay` command does it, and the result is what it was before the loss.

Every service runs as its own process against a real nats-server; intake keeps its vault on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import importlib
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy.engine import make_url

from services.escalation.settings import EscalationSettings
from services.intake.settings import IntakeSettings
from services.intake.vault import Vault, vault_engine
from services.intake.vault.keys import KeyUnavailable
from services.matching.settings import MatchingSettings
from services.tracking.settings import TrackingSettings
from services.wellness.settings import WellnessSettings
from shared.contracts.intake import MemberRegistered
from shared.db import make_engine
from shared.envelope import STREAM, Envelope
from shared.projection import digest
from shared.replay import rebuild_all
from shared.settings import ServiceSettings
from tests.pg import fresh_database, postgres_server
from tests.support.bus import connect, seeds
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
FIRE = "riverton-fire"
# The services that run, each rebuilt from the log as `python -m services.<name> replay` does. notify's
# database is not only a projection (it holds people's sealed contact points): it is restored from the
# backup like the vault, so it has no replay and is left out here; the console has no database.
SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "matching": MatchingSettings,
    "escalation": EscalationSettings,
    "tracking": TrackingSettings,
    "wellness": WellnessSettings,
}
REPLAYED = tuple(SETTINGS)
MAIN: dict[str, ModuleType] = {name: importlib.import_module(f"services.{name}.main") for name in REPLAYED}
CONSUMERS = [c for name in REPLAYED for c in importlib.import_module(f"shared.consumers.{name}").CONSUMERS]
START_WITHIN = 120.0  # five processes starting at once on a shared CI machine
PEOPLE = {"u-ana": "Ana Ortiz", "u-ben": "Ben Okafor", "u-cy": "Cy Laurent"}


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump / pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def digests(var_dir: Path) -> dict[str, str]:
    """Every replayed projection's content hash, from the services' databases under `var_dir`."""
    out: dict[str, str] = {}
    for name in REPLAYED:
        engine = make_engine(f"sqlite:///{var_dir}/{name}.db")
        out |= {f"{name}/{p.name}": digest(engine, p) for p, _ in MAIN[name].projections()}
        engine.dispose()
    return out


async def last_seq(url: str, settle: bool = False) -> int:
    """The log's last sequence; with `settle`, once the running services' durable consumers have
    nothing pending or unacknowledged and nothing was appended since the previous look."""
    nc = await connect(url)
    js = nc.jetstream()
    try:
        last = -1
        while True:
            seq = (await js.stream_info(STREAM)).state.last_seq
            if not settle:
                return seq
            busy = False
            for c in CONSUMERS:
                info = await js.consumer_info(STREAM, c.durable)
                busy = busy or bool(info.num_pending or info.num_ack_pending)
            if not busy and seq == last:
                return seq
            last = seq
            await asyncio.sleep(0.3)
    finally:
        await nc.close()


async def registrations(url: str) -> dict[str, MemberRegistered]:
    """member_ref -> its member_registered event, read from the log (the sealed identity lives there)."""
    nc = await connect(url)
    js, seq = nc.jetstream(), 1
    out: dict[str, MemberRegistered] = {}
    try:
        while True:
            try:
                msg = await js.get_msg(STREAM, seq=seq, subject="ev.*.member.*.member_registered", next=True)
            except NotFoundError:
                return out
            env = Envelope.from_bytes(msg.data or b"")
            out[env.subject] = MemberRegistered.model_validate(env.data)
            seq = (msg.seq or 0) + 1
    finally:
        await nc.close()


@pytest.fixture
def region(tmp_path: Path) -> Iterator[tuple[Cluster, ExitStack, str]]:
    """Every service on one nats-server; intake's vault in database `vault` of its own PostgreSQL."""
    with ExitStack() as stack:
        pg = stack.enter_context(ExitStack())
        server = pg.enter_context(postgres_server())
        vault_url = fresh_database(server, "vault")
        vault_env = {"PEERLINE_VAULT_DATABASE_URL": vault_url}
        cluster = Cluster(tmp_path / "live", services=REPLAYED, env=vault_env, start_within=START_WITHIN)
        stack.callback(cluster.stop)
        cluster.workdir.mkdir()
        cluster.start()
        for name in REPLAYED:
            cluster.wait_healthy(name, START_WITHIN)
        yield cluster, pg, vault_url


def test_the_vault_restored_from_a_dump_and_every_projection_rebuilt_equal_what_was_lost(
    region: tuple[Cluster, ExitStack, str], tmp_path: Path
) -> None:
    cluster, database_server, vault_url = region
    refs = {}
    for sub, name in PEOPLE.items():  # each asks for support as themselves: their identity is sealed
        r = httpx.post(
            f"{cluster.url('intake')}/v1/requests",
            headers={"Authorization": f"Bearer {cluster.token('member', FIRE, sub)}"},
            json={"agency": FIRE, "activation": "self", "identity": {"name": name}},
        )
        assert r.status_code == 201, r.text
    r = httpx.post(
        f"{cluster.url('intake')}/v1/members",
        headers={"Authorization": f"Bearer {cluster.token('coordinator', FIRE, 'u-coord')}"},
        json={"agency": FIRE, "identity": {"name": "Dee Marsh"}, "cad_ids": ["RFD-1001"]},
    )
    assert r.status_code == 201, r.text
    refs["Dee Marsh"] = r.json()["member_ref"]

    # Everything the services will do with it is on the log and in their views; then the loss.
    last = asyncio.run(last_seq(cluster.server.url, settle=True))
    cluster.supervisor.stop()
    live = digests(cluster.workdir)
    assert asyncio.run(last_seq(cluster.server.url)) == last, "an event was appended while stopping"

    # The backup an admin takes (docs/deploy.md): pg_dump of the vault database, custom format.
    dump = tmp_path / "vault.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", libpq(vault_url)], check=True)
    assert not any(name.encode() in dump.read_bytes() for name in [*PEOPLE.values(), "Dee Marsh"]), (
        "no plaintext identity in the dump (the vault keeps wrapped keys; the sealed fields are on the log)"
    )
    database_server.close()  # the database server and its disk are gone...
    for name in REPLAYED:  # ...and every read model with them
        (cluster.workdir / f"{name}.db").unlink()

    with postgres_server() as fresh_server:
        restored = fresh_database(fresh_server, "vault")
        keyring = IntakeSettings(var_dir=cluster.workdir).keyring()  # the KEK: kept apart from the backup
        registered = asyncio.run(registrations(cluster.server.url))
        assert len(registered) == len(PEOPLE) + 1
        ref = refs["Dee Marsh"]
        with pytest.raises(KeyUnavailable):  # without the backup, the log's sealed identities stay shut
            Vault(vault_engine(fresh_database(fresh_server, "empty")), keyring).open(ref, registered[ref])
        restore = ["pg_restore", "--no-owner", "--single-transaction", "--exit-on-error"]
        subprocess.run([*restore, f"--dbname={libpq(restored)}", str(dump)], check=True)

        vault = Vault(vault_engine(restored), keyring)
        opened = {vault.open(m, event)["name"] for m, event in registered.items()}
        assert opened == {*PEOPLE.values(), "Dee Marsh"}, "every stored identity reads again"
        assert vault.lookup(FIRE, ["RFD-1001"]) == {"RFD-1001": ref}, "the CAD roster came back too"

        rebuilt = tmp_path / "rebuilt"
        rebuilt.mkdir()
        asyncio.run(replay(cluster.server.url, rebuilt))
        assert digests(rebuilt) == live


async def replay(url: str, var_dir: Path) -> None:
    """What `python -m services.<name> replay` runs for each service: as the read-only `replay` bus
    identity, every projection rebuilt from the log into the service's (here empty) database."""
    for name in REPLAYED:
        settings = SETTINGS[name](
            nats_url=url, nats_user="replay", nats_seed_file=seeds(url) / "replay.nk", var_dir=var_dir
        )
        await rebuild_all(settings, make_engine(settings.db_url()), MAIN[name].projections())
