"""Overload, reduced from `python -m bench.overload`: a burst far beyond what intake lets in at once is
shed with 503 instead of accepted and kept waiting, and every request it accepted reaches the log and
settles (a peer is assigned or the case is found unmatched)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from shared.seed import AGENCIES
from tests.support.cluster import Cluster, events

SETTLED = {"peer_assigned", "request_unmatched"}


async def burst(c: Cluster, n: int, at_once: int) -> tuple[Counter[int], set[str]]:
    """`n` requests, `at_once` in flight at any moment, each sent once: the answers and the accepted cases."""
    codes: Counter[int] = Counter()
    accepted: set[str] = set()
    tokens = {a: c.token("member", a) for a in AGENCIES}
    agencies = list(AGENCIES)
    gate = asyncio.Semaphore(at_once)
    async with httpx.AsyncClient(base_url=c.url("intake"), timeout=30) as client:

        async def one(i: int) -> None:
            agency = agencies[i % len(agencies)]
            async with gate:
                r = await client.post(
                    "/v1/requests",
                    json={"agency": agency, "activation": "self"},
                    headers={"Authorization": f"Bearer {tokens[agency]}"},
                )
            codes[r.status_code] += 1
            if r.status_code == 201:
                accepted.add(r.json()["case_id"])

        await asyncio.gather(*(one(i) for i in range(n)))
    return codes, accepted


def settled(c: Cluster, accepted: set[str], within: float) -> tuple[set[str], set[str]]:
    """(cases requested, cases settled) on the log, once every accepted case settled or time is up."""
    deadline = time.monotonic() + within
    while True:
        log = events(c, "ev.*.case.>", within=0)
        requested = {e.subject for e in log if e.event_name == "support_requested"}
        done = {e.subject for e in log if e.event_name in SETTLED}
        if accepted <= done or time.monotonic() > deadline:
            return requested, done
        time.sleep(0.5)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_a_burst_beyond_capacity_is_shed_and_nothing_accepted_is_lost(tmp_path: Path) -> None:
    with Cluster(tmp_path, services=("intake", "matching"), env={"PEERLINE_MAX_INFLIGHT": "4"}) as c:
        codes, accepted = asyncio.run(burst(c, n=400, at_once=48))
        assert codes[503] > 0, codes  # intake said "not now" rather than queueing without bound
        assert codes[201] > 0 and len(accepted) == codes[201], codes
        assert set(codes) <= {201, 503}, codes
        requested, done = settled(c, accepted, within=90)
    assert not accepted - requested  # every 201 is an event in the log
    assert not accepted - done  # and was assigned or found unmatched
