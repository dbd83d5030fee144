"""The "done when" flows against a real intake process: a CAD integrator's line-of-duty death over
HTTP and over NATS, and an anonymous member following their case by token; then the process log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import Role, mint
from shared.consumers.intake import CAD_INBOX
from shared.envelope import STREAM, Envelope
from shared.natsserver import NatsServer
from tests.support.bus import connect
from tests.support.cluster import Cluster

from .conftest import FIXTURES, stored
from .scan import found

pytestmark = pytest.mark.e2e
FIRE = "riverton-fire"
CREW = {
    "RFD-4471": "Lucian Featherstonehaugh",
    "RFD-6013": "Ingrid Solvang",
    "ECC-204": "Marguerite Oyelaran",
}
PUBLIC = ("Harold Wexley", "+1 555 201 3344", "Greta Wexley", "Alder Street")


class Running:
    def __init__(self, base: str, private_key: bytes, url: str, log: Path) -> None:
        self.base, self.private_key, self.url, self.log = base, private_key, url, log

    def auth(self, role: Role, agency: str = FIRE) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(self.private_key, role=role, agency=agency)}"}


@pytest.fixture
def running(nats_server: NatsServer, tmp_path: Path) -> Iterator[Running]:
    env = {"PEERLINE_LOG_LEVEL": "DEBUG"}
    with Cluster(tmp_path, services=("intake",), env=env, on=nats_server, seeded=False) as c:
        yield Running(c.url("intake"), c.private_key, nats_server.url, c.child("intake").log_path)
    assert c.exit_codes() == {"intake": 0}, c.logs()
    assert (tmp_path / "keys" / "kek").exists()  # the development KEK was made by intake itself


async def _incident_events(url: str) -> list[Envelope]:
    nc = await connect(url)
    try:
        return [Envelope.from_bytes(d) for d, _ in await stored(nc.jetstream(), STREAM, "ev.*.incident.>")]
    finally:
        await nc.close()


async def _publish(url: str, subject: str, data: bytes) -> None:
    nc = await connect(url)
    await nc.jetstream().publish(subject, data, stream=CAD_INBOX)
    await nc.close()


def test_cad_integrator_and_anonymous_member(running: Running) -> None:
    refs = {}
    for cad_id, name in CREW.items():
        r = httpx.post(
            f"{running.base}/v1/members",
            json={"agency": FIRE, "identity": {"name": name}, "cad_ids": [cad_id]},
            headers=running.auth("coordinator"),
        )
        assert r.status_code == 201, r.text
        refs[cad_id] = r.json()["member_ref"]
    docs = httpx.get(f"{running.base}/openapi.json").json()
    assert "/v1/cad/incidents" in docs["paths"]

    lodd = (FIXTURES / "lodd.json").read_bytes()
    r = httpx.post(
        f"{running.base}/v1/cad/incidents",
        content=lodd,
        headers={**running.auth("integration"), "content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["events"] == ["critical_incident_reported"], r.text
    asyncio.run(_publish(running.url, f"cad.{FIRE}.incident", lodd))  # the same incident again, over NATS
    ois = json.loads((FIXTURES / "webhook_ois.json").read_text())
    asyncio.run(_publish(running.url, "cad.riverton-police.incident", json.dumps(ois).encode()))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = asyncio.run(_incident_events(running.url))
        if len(events) >= 2:
            break
        time.sleep(0.1)
    assert sorted((e.agency, e.event_name) for e in events) == [
        (FIRE, "critical_incident_reported"),
        ("riverton-police", "critical_incident_reported"),
    ]
    [fire] = [e for e in events if e.agency == FIRE]
    involved = {i["member_ref"] for i in fire.data["involved"]}
    assert involved == set(refs.values())
    wire = json.dumps([e.data for e in events])
    assert found([*PUBLIC, *CREW.values(), *CREW], wire) == []

    r = httpx.post(
        f"{running.base}/v1/requests",
        json={"agency": FIRE, "activation": "self"},
        headers=running.auth("member"),
    )
    case_id, token = r.json()["case_id"], r.json()["case_token"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = httpx.get(f"{running.base}/v1/requests/{case_id}", headers={"X-Case-Token": token})
        if status.status_code == 200:
            break
        time.sleep(0.05)
    assert status.json()["status"] == "requested"
    log = running.log.read_text()
    assert "CAD update for" in log  # the scan reads a real log
    assert found([*PUBLIC, *CREW.values()], log) == []
