"""Escalation as a real process beside intake: a risk flag pages the clinician; the process is killed
mid-deadline and restarted after it → the next tier is paged exactly once; a reveal goes to whatever
answers intake's vault subject (the real vault when intake serves it, else the test double), refused
where the policy forbids; `python -m services.escalation audit verify` passes, then catches tampering."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from shared.auth import Role
from shared.contracts.escalation import TierNotification
from shared.contracts.intake import REVEAL_SUBJECT, RevealReply, RevealRequest, SupportRequested
from shared.contracts.matching import PeerAssigned
from shared.contracts.tracking import ContactLogged
from shared.envelope import Envelope, new_id
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from tests.escalation.conftest import VaultDouble
from tests.support.bus import connect, seed
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
AGENCY = "riverton-police"


class Stack:
    def __init__(self, cluster: Cluster, nc: Client) -> None:
        self.cluster, self.nc = cluster, nc
        self.tmp, self.server, self.base = cluster.workdir, cluster.server, cluster.url("escalation")
        self.store = EventStore(nc.jetstream())
        self.pages: asyncio.Queue[TierNotification] = asyncio.Queue()

    def headers(self, role: Role, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.cluster.token(role, AGENCY, sub)}"}

    async def page(self, timeout: float = 20) -> TierNotification:
        return await asyncio.wait_for(self.pages.get(), timeout)

    async def names(self, escalation_id: str) -> list[str]:
        history = await self.store.load(AGENCY, "escalation", escalation_id)
        return [s.envelope.event_name for s in history.events]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PEERLINE_NATS_URL": self.server.url, "PEERLINE_VAR_DIR": str(self.tmp)}
        env.update(PEERLINE_NATS_USER="replay", PEERLINE_NATS_SEED_FILE=str(seed(self.server.url, "replay")))
        return subprocess.run(
            [sys.executable, "-m", "services.escalation", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
async def stack(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Stack]:
    cluster = Cluster(tmp_path, services=("intake", "escalation"), on=nats_server, seeded=False)
    await asyncio.to_thread(cluster.start)
    nc = await connect(nats_server.url)
    s = Stack(cluster, nc)

    async def on_page(msg: object) -> None:
        await s.pages.put(TierNotification.model_validate_json(msg.data))  # type: ignore[attr-defined]

    try:
        await nc.subscribe(f"notify.{AGENCY}.>", cb=on_page)
        yield s
    finally:
        await asyncio.to_thread(cluster.stop)
        await nc.close()
    assert cluster.exit_codes() == {"intake": 0, "escalation": 0}, cluster.logs()


async def open_flagged_case(stack: Stack) -> tuple[str, Envelope]:
    case_id = new_id("c")
    requested = SupportRequested(activation="peer", member_ref=new_id("m"), token_hash="0" * 64)
    offered = PeerAssigned(peer_ref="p-1", peer_agency=AGENCY, assignment_id="a1")
    version = await stack.store.append(
        [Envelope.wrap(e, agency=AGENCY, subject=case_id, source="t") for e in (requested, offered)], 0
    )
    flag = ContactLogged(
        peer_ref="p-1",
        week="2026-W48",
        mode="in_person",
        categories=("grief",),
        duration="30_60m",
        risk_flag=True,
    )
    env = Envelope.wrap(flag, agency=AGENCY, subject=case_id, source="peerline/tracking")
    await stack.store.append([env], version)
    return case_id, env


async def vault_answers(nc: Client) -> bool:
    probe = RevealRequest(
        agency=AGENCY, escalation_id="x-probe", case_id="c-probe", requested_by="u", disclosed_to="u"
    )
    try:
        msg = await nc.request(REVEAL_SUBJECT, probe.model_dump_json().encode(), timeout=2)
    except (NoRespondersError, NatsTimeout, TimeoutError):
        return False
    reply = RevealReply.model_validate_json(msg.data)
    assert not reply.ok, "the vault revealed an identity for an escalation that does not exist"
    return True


async def test_flag_pages_then_restart_mid_deadline_advances_once_and_reveal_is_audited(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base) as c:
        policy = {
            "jurisdiction": "broad-duty",
            "disclosable": ["imminent_self_harm", "threat_to_identifiable_person"],
            "chain": [
                {"role": "clinician", "ack_within_s": 2},
                {"role": "coordinator", "ack_within_s": 3600},
            ],
        }
        r = await c.put(
            f"/v1/agencies/{AGENCY}/disclosure-policy",
            json=policy,
            headers=stack.headers("regional_admin", "u-a"),
        )
        assert r.status_code == 202 and r.json()["status"] == "proposed", r.text
        r = await c.post(
            f"/v1/agencies/{AGENCY}/disclosure-policy/approval",
            json={"proposal_id": r.json()["proposal_id"]},
            headers=stack.headers("coordinator", "u-co"),
        )
        assert r.status_code == 200 and r.json()["policy_version"] == 2, r.text  # v1 = the seeded default

    case_id, _ = await open_flagged_case(stack)
    first = await stack.page()
    assert (first.case_id, first.tier, first.role) == (case_id, 1, "clinician")
    x = first.escalation_id

    await asyncio.to_thread(stack.cluster.kill, "escalation")  # crash mid-deadline
    assert await stack.names(x) == ["escalation_triggered"], "the deadline passed before the crash"
    wait = (first.deadline.timestamp() - time.time()) + 0.5
    await asyncio.sleep(max(wait, 0))  # the deadline passes while escalation is down
    await asyncio.to_thread(stack.cluster.restart, "escalation")

    # what the killed process had fetched but not acknowledged comes back after the consumer's ack wait
    second = await stack.page(timeout=40)
    while second.tier == 1:  # pages are at least once: the killed process may not have acked tier 1's
        assert second.event_id == first.event_id
        second = await stack.page(timeout=40)
    assert (second.escalation_id, second.tier, second.role) == (x, 2, "coordinator")
    async with httpx.AsyncClient(base_url=stack.base) as c:
        coordinator = stack.headers("coordinator", "u-co")
        for _ in range(200):
            listed = (await c.get(f"/v1/agencies/{AGENCY}/escalations", headers=coordinator)).json()
            if listed and listed[0]["tier"] == 2:
                break
            await asyncio.sleep(0.05)
        assert await stack.names(x) == ["escalation_triggered", "escalation_tier_advanced"]

        # a clinician answers; the vault is intake's if it serves the subject, else the test double
        real_vault = await vault_answers(stack.nc)
        double = None if real_vault else VaultDouble(stack.nc)
        if double is not None:
            await double.start()
        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/acknowledge", headers=stack.headers("clinician", "u-cl")
        )
        assert r.status_code == 200, r.text
        # straight to the vault, bypassing escalation: a clinician who did not acknowledge is refused
        sneaky = RevealRequest(
            agency=AGENCY, escalation_id=x, case_id=case_id, requested_by="u-x", disclosed_to="u-x"
        )
        answer = await stack.nc.request(REVEAL_SUBJECT, sneaky.model_dump_json().encode(), timeout=5)
        assert not RevealReply.model_validate_json(answer.data).ok

        r = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{x}/reveal",
            json={"reason": "welfare_check"},
            headers=stack.headers("clinician", "u-cl"),
        )
        requested = await stack.store.load(AGENCY, "case", case_id)
        member_ref = requested.events[0].envelope.data["member_ref"]
        member_events = [s.envelope for s in (await stack.store.load(AGENCY, "member", member_ref)).events]
        disclosed = [e for e in member_events if e.event_name == "identity_disclosed"]
        if r.status_code == 200:
            assert [e.data["escalation_id"] for e in disclosed] == [x]
            assert disclosed[0].data["requested_by"] == "u-cl"
        else:
            assert real_vault and r.status_code == 403 and "the vault refused" in r.json()["detail"], r.text
            assert disclosed == []
        assert real_vault or r.status_code == 200

        # the same person on a category this policy keeps confidential: refused here, with the reason
        other_case, _ = await open_flagged_case(stack)
        raised = await c.post(
            f"/v1/agencies/{AGENCY}/escalations",
            json={"case_id": other_case, "category": "admission_of_crime"},
            headers=stack.headers("peer", "p-1"),  # the peer holding the case
        )
        y = raised.json()["escalation_id"]
        await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{y}/acknowledge", headers=stack.headers("clinician", "u-cl")
        )
        refused = await c.post(
            f"/v1/agencies/{AGENCY}/escalations/{y}/reveal",
            json={"reason": "welfare_check"},
            headers=stack.headers("clinician", "u-cl"),
        )
        assert refused.status_code == 403 and "does not permit disclosure" in refused.json()["detail"]

        # wait until the view has seen everything, then verify the trail; then tamper with it
        for _ in range(200):
            listed = (await c.get(f"/v1/agencies/{AGENCY}/escalations", headers=coordinator)).json()
            if len(listed) >= 3 and all(
                e["status"] == "acknowledged" for e in listed if e["escalation_id"] == y
            ):
                break
            await asyncio.sleep(0.05)
    ok = await asyncio.to_thread(stack.cli, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout
    db = sqlite3.connect(stack.tmp / "escalation.db")
    with db:
        db.execute(
            "UPDATE audit_chain SET body = replace(body, 'u-cl', 'u-zz') "
            "WHERE body LIKE '%escalation_acknowledged%'"
        )
    db.close()
    bad = await asyncio.to_thread(stack.cli, "audit", "verify")
    assert bad.returncode == 1 and "altered" in bad.stdout, bad.stdout + bad.stderr
    if double is not None:
        await double.sub.unsubscribe()  # type: ignore[union-attr]
