"""An agency site cut off from the region keeps accepting CAD incidents and support requests; when the
link returns, each reaches the region's log exactly once (docs/leaf-sites.md).

Real processes: the region is a 3-node JetStream cluster with intake running on it; the site is its own
nats-server, a leaf node with the JetStream domain `site-<agency>`. The cut: the site restarts with no
link at all. The CAD re-posts one document (same message id) and sends one again as a new message; a
member's request is posted twice: nothing may arrive twice, nothing may be missing. A request that
carries a name is taken at the site but refused by the region (dead letter, the name not quoted).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from nats.js.errors import NotFoundError

from services.intake.domain.incident import incident_id
from shared.consumers.intake import CAD_DURABLE, CAD_INBOX, site_domain, site_stream_name
from shared.leafnode import SiteServer, provision_site
from shared.siterequest import SiteRequest, case_id, headers
from shared.topology import DLQ_STREAM
from tests.support.bus import connect, register
from tests.support.cluster import Cluster
from tests.support.natscluster import NatsCluster

T = TypeVar("T")
AGENCY = "riverton-fire"
NAME = "Dana Whitfield"
SUBJECT = f"cad.{AGENCY}.incident"


def incident(number: int) -> bytes:
    doc = {
        "format": "peerline-webhook/1",
        "incident_id": f"SITE-{number:03d}",
        "type": "Structure fire",
        "priority": 1,
        "units": [{"unit": "E1", "crew": []}],
        "flags": ["mayday"],
    }
    return json.dumps(doc).encode()


def request(number: int) -> tuple[SiteRequest, str]:
    """A member's request made at the site, and the case token the site handed them."""
    token = secrets.token_urlsafe(32)
    body = SiteRequest(
        request_id=f"site-req-{number:04d}",
        activation="self",
        discipline="fire",
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        requested_at=datetime.now(UTC),
    )
    return body, token


async def post_at_site(url: str, incidents: range, requests: list[SiteRequest]) -> dict[str, int]:
    """What the site's CAD and its door post while cut off; every ack must come from the site itself."""
    cad = await connect(url, user=f"cad-{AGENCY}")
    door = await connect(url, user=f"site-door-{AGENCY}")
    acks: Counter[str] = Counter()
    try:
        for n in incidents:
            for _ in range(2):  # the CAD posts the same document twice (it did not see the first ack)
                ack = await cad.jetstream().publish(SUBJECT, incident(n), headers={"Nats-Msg-Id": f"cad-{n}"})
                acks[ack.domain or ""] += 1
        ack = await cad.jetstream().publish(SUBJECT, incident(incidents[0]))  # an update, as a new message
        acks[ack.domain or ""] += 1
        for body in [*requests, requests[0]]:  # the first request is posted twice
            subject = f"site.{AGENCY}.request"
            ack = await door.jetstream().publish(
                subject, body.model_dump_json().encode(), headers=headers(body)
            )
            acks[ack.domain or ""] += 1
    finally:
        await cad.close()
        await door.close()
    return dict(acks)


async def post_with_a_name(url: str) -> None:
    """A door that tries to send a name along: the site takes it, the region refuses it (dead letter)."""
    door = await connect(url, user=f"site-door-{AGENCY}")
    body, _ = request(99)
    try:
        named = {**json.loads(body.model_dump_json()), "name": NAME}
        await door.jetstream().publish(
            f"site.{AGENCY}.request", json.dumps(named).encode(), headers=headers(body)
        )
    finally:
        await door.close()


async def dead_letters(url: str) -> list[dict[str, str]]:
    nc = await connect(url)
    js, out, seq = nc.jetstream(), [], 1
    try:
        while True:
            try:
                msg = await js.get_msg(DLQ_STREAM, seq=seq, subject=f"dlq.{CAD_DURABLE}", next=True)
            except NotFoundError:
                return out
            out.append(dict(msg.headers or {}))
            seq = (msg.seq or 0) + 1
    finally:
        await nc.close()


async def log_counts(url: str) -> tuple[Counter[str], Counter[str], int]:
    """From the region: reports per incident, support_requested per case, CAD inbox messages not yet
    taken by intake (in the stream's source or its consumer)."""
    nc = await connect(url)
    js, reports, requested = nc.jetstream(), Counter[str](), Counter[str]()
    try:
        for subject, into in (
            (f"ev.{AGENCY}.incident.*.critical_incident_reported", reports),
            (f"ev.{AGENCY}.case.*.support_requested", requested),
        ):
            seq = 1
            while True:
                try:
                    msg = await js.get_msg("PEERLINE_EVENTS", seq=seq, subject=subject, next=True)
                except NotFoundError:
                    break
                into[(msg.subject or "").split(".")[3]] += 1
                seq = (msg.seq or 0) + 1
        info = await js.consumer_info(CAD_INBOX, CAD_DURABLE)
        stream = await js.stream_info(CAD_INBOX)
        lag = sum(s.lag or 0 for s in stream.sources or [])
        return reports, requested, info.num_pending + info.num_ack_pending + lag
    finally:
        await nc.close()


def until(check: Callable[[], T], within: float = 60.0) -> T:
    """Poll `check()` until it returns something truthy or the deadline passes; returns the last value."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_a_cut_off_site_keeps_accepting_and_the_region_takes_everything_once(tmp_path: Path) -> None:
    region = Cluster(tmp_path / "region", services=("intake",), nats_nodes=3, sites=(AGENCY,))
    site: SiteServer | None = None
    try:
        region.start_nats()
        assert isinstance(region.server, NatsCluster)
        link_seed = region.server.seeds / f"site-link-{AGENCY}.nk"  # issued by the region, kept at the site
        site = SiteServer(
            tmp_path / "site", agency=AGENCY, harness=True, hub_urls=region.leaf_urls, link_seed=link_seed
        ).start()
        register(site.url, site.seeds)
        asyncio.run(_provision(site.url))
        region.provision()  # the region's CAD inbox sources the site stream, there from the start
        region.start_services()
        before = range(1, 2)
        assert asyncio.run(post_at_site(site.url, before, [request(1)[0]])) == {site_domain(AGENCY): 5}
        ref = incident_id(AGENCY, "SITE-001")
        assert until(lambda: asyncio.run(log_counts(region.server.url))[0][ref]), "the link never carried"

        site.relink(False)  # the line is cut
        cut, made = range(2, 7), [request(n) for n in range(2, 6)]
        acks = asyncio.run(post_at_site(site.url, cut, [body for body, _ in made]))
        assert acks == {site_domain(AGENCY): 2 * len(cut) + 1 + len(made) + 1}, "the site itself accepts all"
        asyncio.run(post_with_a_name(site.url))
        site_held = asyncio.run(_site_messages(site.url))
        assert site_held == 3 + len(cut) + 1 + len(made) + 1, "a message posted twice is kept once"
        reports, requested, _ = asyncio.run(log_counts(region.server.url))
        assert not {incident_id(AGENCY, f"SITE-{n:03d}") for n in cut} & set(reports), "cut off: none yet"

        site.relink(True)  # the line is back
        cases = {case_id(AGENCY, body.request_id): token for body, token in made}
        refs = {incident_id(AGENCY, f"SITE-{n:03d}") for n in cut}

        def all_taken() -> tuple[Counter[str], Counter[str]] | None:
            """Once the last message posted at the site (the named request) is dead-lettered and the
            inbox is empty, everything before it has been taken too (a source keeps the site's order)."""
            reports, requested, waiting = asyncio.run(log_counts(region.server.url))
            last_taken = bool(asyncio.run(dead_letters(region.server.url)))
            done = refs <= set(reports) and set(cases) <= set(requested) and last_taken and not waiting
            return (reports, requested) if done else None

        settled = until(all_taken, within=60.0)
        assert settled, "the region never took everything the site accepted while cut off"
        reports, requested = settled
        assert all(reports[r] == 1 for r in refs | {ref}), f"each incident reported once: {reports}"
        assert set(cases) <= set(requested) and set(requested.values()) == {1}, "each request: one case"
        assert len(requested) == 1 + len(made), "no other case was opened"
        [refused] = asyncio.run(dead_letters(region.server.url))
        assert "name" in refused["Peerline-Reason"] and NAME not in refused["Peerline-Reason"]
        case, token = next(iter(cases.items()))  # the member follows it with the token given at the site
        status = until(lambda: _status(region.url("intake"), case, token) == 200, within=20.0)
        assert status, "the member cannot follow the request with the site's case token"
    finally:
        if site is not None:
            site.stop()
        region.stop()


async def _provision(url: str) -> None:
    nc = await connect(url, user="site-provisioner")
    try:
        await provision_site(nc.jetstream(), AGENCY)
    finally:
        await nc.close()


async def _site_messages(url: str) -> int:
    nc = await connect(url)
    try:
        return (await nc.jetstream().stream_info(site_stream_name(AGENCY))).state.messages
    finally:
        await nc.close()


def _status(base: str, case: str, token: str) -> int:
    return httpx.get(f"{base}/v1/requests/{case}", headers={"X-Case-Token": token}, timeout=5).status_code
