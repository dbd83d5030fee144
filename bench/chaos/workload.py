"""Requests from members through intake's HTTP API; only a 201 counts as accepted."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.chaos.cluster import Cluster
from shared.seed import AGENCIES


@dataclass
class Accepted:
    cases: dict[str, str] = field(default_factory=dict)  # case_id -> agency
    refused: dict[int, int] = field(default_factory=dict)  # status (0 = no answer) -> count


async def post_until_taken(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    token: str,
    refused: dict[int, int],
    *,
    taken: Callable[[int], bool],
    attempts: int = 100,
    pause: float = 0.3,
) -> httpx.Response | None:
    """POST as a client that tries again while Peerline refuses or does not answer (as members, CAD
    systems and peers do): the response taken, or None after `attempts`. Each refusal is counted in
    `refused` by status (0: no answer)."""
    headers = {"Authorization": f"Bearer {token}"}
    for _attempt in range(attempts):
        try:
            r = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError:
            refused[0] = refused.get(0, 0) + 1
        else:
            if taken(r.status_code):
                return r
            refused[r.status_code] = refused.get(r.status_code, 0) + 1
        await asyncio.sleep(pause)
    return None


async def send_requests(
    cluster: Cluster, n: int, *, rate: float, concurrency: int = 16, seed: int = 11
) -> Accepted:
    """Offer `n` requests at `rate` per second (retrying failures), so chaos has time to happen."""
    rng = random.Random(seed)
    agencies = list(AGENCIES)
    tokens = {a: cluster.token("member", a) for a in agencies}
    out = Accepted()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    loop = asyncio.get_running_loop()
    start = loop.time()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            agency = rng.choice(agencies)
            activation = rng.choice(["self", "supervisor", "peer", "post_incident"])
            body: dict[str, object] = {"agency": agency, "activation": activation}
            if activation in ("supervisor", "peer"):  # a referral says how to reach the member
                body["identity"] = {"phone": "+1 555 010 0000"}
            # a member whose request failed tries again (~30 s)
            r = await post_until_taken(
                client, "/v1/requests", body, tokens[agency], out.refused, taken=lambda s: s == 201
            )
            if r is not None:
                out.cases[r.json()["case_id"]] = agency

    async with httpx.AsyncClient(base_url=cluster.url("intake"), timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return out
