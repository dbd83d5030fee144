"""Peers report a contact on cases assigned to them (tracking's HTTP API, with the peer's own token), so
wellness schedules follow-ups that fall due during the run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from nats.aio.msg import Msg

from bench.chaos.cluster import Cluster
from bench.chaos.workload import post_until_taken
from shared.envelope import STREAM, Envelope
from tests.support.bus import connect

CONTACT = {"mode": "phone", "categories": ["critical_incident"], "duration": "15_30m"}


@dataclass
class Contacts:
    logged: set[str] = field(default_factory=set)  # case_ids with a contact accepted (201)
    refused: dict[int, int] = field(default_factory=dict)  # status (0 = no answer) -> count
    given_up: int = 0


async def _expected(exc: Exception) -> None:
    """The server this reader is on may be the one restarted or killed: it reconnects, quietly."""


async def report_contacts(
    cluster: Cluster, n: int, until: asyncio.Future[object], *, concurrency: int = 4
) -> Contacts:
    """A contact on each of the first `n` cases assigned (as the log says), retried until accepted;
    stops when `n` are logged, or when `until` is done and no assignment is left to report."""
    out = Contacts()
    queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
    seen: set[str] = set()

    async def take(msg: Msg) -> None:
        env = Envelope.from_bytes(msg.data)
        if env.subject not in seen and len(seen) < n:
            seen.add(env.subject)
            queue.put_nowait((env.agency, env.subject, env.data["peer_ref"]))

    nc = await connect(cluster.server.url, max_reconnect_attempts=-1, error_cb=_expected)
    sub = await nc.jetstream().subscribe(
        "ev.*.case.*.peer_assigned", stream=STREAM, ordered_consumer=True, cb=take
    )

    async def report(client: httpx.AsyncClient, agency: str, case_id: str, peer_ref: str) -> None:
        token = cluster.token("peer", agency, sub=peer_ref)
        body = {**CONTACT, "report_id": f"r{case_id}"[:64]}
        path = f"/v1/agencies/{agency}/cases/{case_id}/contacts"
        # tracking may be down, or not yet aware of the assignment (403)
        taken = await post_until_taken(
            client, path, body, token, out.refused, taken=lambda s: s in (200, 201), attempts=60, pause=0.5
        )
        if taken is not None:
            out.logged.add(case_id)
        else:
            out.given_up += 1  # e.g. the assignment was declined or expired before the report

    async def worker(client: httpx.AsyncClient) -> None:
        idle = 0.0
        while len(out.logged) < n and idle < 5.0:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=1.0)
            except TimeoutError:
                idle = idle + 1.0 if until.done() else 0.0
                continue
            idle = 0.0
            await report(client, *item)

    try:
        async with httpx.AsyncClient(base_url=cluster.url("tracking"), timeout=10) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    finally:
        await sub.unsubscribe()
        await nc.close()
    return out
