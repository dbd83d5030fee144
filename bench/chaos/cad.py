"""CAD incidents through intake's HTTP API: a roster per agency first, then `peerline-webhook/1` updates.

Every incident carries a triggering flag, so each one is a critical incident; about a fifth are sent
again as updates (same incident id, sometimes one more crew member). Only a 2xx counts as accepted.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import httpx

from bench.chaos.cluster import Cluster
from bench.chaos.workload import post_until_taken
from shared.seed import AGENCIES

FLAGS = ("line_of_duty_death", "officer_involved_shooting", "mayday", "mass_casualty", "child_victim")


@dataclass
class CadAccepted:
    incidents: dict[tuple[str, str], str] = field(default_factory=dict)  # (agency, CAD id) -> incident_ref
    updates: int = 0  # accepted resends
    refused: dict[int, int] = field(default_factory=dict)  # status (0 = no answer) -> count


def cad_id(agency: str, n: int) -> str:
    return f"{agency[:3].upper()}-{n:04d}"


async def register_roster(cluster: Cluster, per_agency: int) -> dict[str, list[str]]:
    """Roster members with CAD ids, before the chaos starts; returns agency -> CAD ids."""
    roster: dict[str, list[str]] = {}
    async with httpx.AsyncClient(base_url=cluster.url("intake"), timeout=10) as client:
        for agency in AGENCIES:
            headers = {"Authorization": f"Bearer {cluster.token('coordinator', agency)}"}
            roster[agency] = []
            for n in range(per_agency):
                cid = cad_id(agency, n)
                body = {"agency": agency, "identity": {"name": f"Member {cid}"}, "cad_ids": [cid]}
                r = await client.post("/v1/members", json=body, headers=headers)
                r.raise_for_status()
                roster[agency].append(cid)
    return roster


def document(rng: random.Random, number: int, roster: list[str], extra: int = 0) -> dict[str, object]:
    """One webhook update; `extra` adds that many more crew (an update naming someone new)."""
    picked = random.Random(number).sample(roster, 6)[: 5 + extra]  # same people on every update
    crew, dispatcher = picked[:3] + picked[4:], picked[3]
    return {
        "format": "peerline-webhook/1",
        "incident_id": f"CHAOS-{number:06d}",
        "type": "Structure fire",
        "priority": 1,
        "units": [{"unit": f"E{number % 40}", "crew": crew}],
        "dispatchers": [dispatcher],
        "flags": [rng.choice(FLAGS)],
    }


async def send_incidents(
    cluster: Cluster,
    roster: dict[str, list[str]],
    n: int,
    *,
    rate: float,
    resend: float = 0.2,
    concurrency: int = 4,
    seed: int = 13,
) -> CadAccepted:
    """Offer `n` incidents (plus ~`resend` of them again as updates) at `rate` per second, retrying."""
    rng = random.Random(seed)
    agencies = list(AGENCIES)
    tokens = {a: cluster.token("integration", a) for a in agencies}
    plan: list[tuple[int, str, int | None]] = [(i, rng.choice(agencies), None) for i in range(n)]
    for i, agency, _ in list(plan):
        if rng.random() < resend:  # an update comes after the first report, a little later
            at = min(len(plan), plan.index((i, agency, None)) + rng.randint(1, 50))
            plan.insert(at, (i, agency, rng.choice((0, 1))))
    out = CadAccepted()
    queue: asyncio.Queue[tuple[int, tuple[int, str, int | None]]] = asyncio.Queue()
    for k, item in enumerate(plan):
        queue.put_nowait((k, item))
    loop = asyncio.get_running_loop()
    start = loop.time()
    first_sent: dict[int, asyncio.Event] = {i: asyncio.Event() for i in range(n)}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            k, (number, agency, extra) = queue.get_nowait()
            await asyncio.sleep(max(0.0, start + k / rate - loop.time()))
            if extra is not None:
                await first_sent[number].wait()  # an update never overtakes its first report
            body = document(rng, number, roster[agency], extra or 0)
            # CAD sends again until Peerline answers 2xx (~30 s)
            r = await post_until_taken(
                client, "/v1/cad/incidents", body, tokens[agency], out.refused, taken=lambda s: 200 <= s < 300
            )
            if r is not None:
                key = (agency, str(body["incident_id"]))
                if key in out.incidents:
                    out.updates += 1
                out.incidents[key] = r.json()["incident_ref"]
            if extra is None:
                first_sent[number].set()

    async with httpx.AsyncClient(base_url=cluster.url("intake"), timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return out
