"""The first flow across real processes: a request gets a peer, and one trace spans intake → matching."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.envelope import STREAM, Envelope
from shared.natsserver import NatsServer
from tests.support.bus import connect
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(nats_server: NatsServer, tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path, services=("intake", "matching"), on=nats_server) as c:
        yield c
    assert c.exit_codes() == {"intake": 0, "matching": 0}, [
        c.child(n).log_path.read_text()[-2000:] for n in c.services
    ]


def wait_for_status(stack: Cluster, case_id: str, token: str, want: str, within: float = 5.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        r = httpx.get(f"{stack.url('intake')}/v1/requests/{case_id}", headers={"X-Case-Token": token})
        if r.status_code == 200 and r.json()["status"] == want:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"case {case_id} not {want} within {within}s (last: {r.status_code} {r.text})")


async def _case_messages(url: str, agency: str, case_id: str) -> dict[str, dict[str, str]]:
    nc = await connect(url)
    js = nc.jetstream()
    out: dict[str, dict[str, str]] = {}
    seq = 1
    while True:
        try:
            msg = await js.get_msg(STREAM, seq=seq, subject=f"ev.{agency}.case.{case_id}.>", next=True)
        except Exception:
            break
        out[Envelope.from_bytes(msg.data or b"").event_name] = dict(msg.headers or {})
        seq = (msg.seq or 0) + 1
    await nc.close()
    return out


def test_request_is_assigned_across_processes_in_one_trace(stack: Cluster) -> None:
    agency = "riverton-fire"
    r = httpx.post(
        f"{stack.url('intake')}/v1/requests",
        json={"agency": agency, "activation": "self"},
        headers={"Authorization": f"Bearer {stack.token('member', agency)}"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    took = wait_for_status(stack, body["case_id"], body["case_token"], "offered")
    assert took < 5.0

    headers = asyncio.run(_case_messages(stack.server.url, agency, body["case_id"]))
    assert set(headers) == {"support_requested", "peer_assigned"}
    requested_trace = headers["support_requested"]["traceparent"].split("-")[1]
    assigned_trace = headers["peer_assigned"]["traceparent"].split("-")[1]
    assert requested_trace == assigned_trace != "0" * 32

    # the coordinator of the agency sees the case, without identity or content
    listing = httpx.get(
        f"{stack.url('intake')}/v1/agencies/{agency}/cases",
        headers={"Authorization": f"Bearer {stack.token('coordinator', agency)}"},
    ).json()
    assert [c["case_id"] for c in listing] == [body["case_id"]]
    assert "member_ref" not in listing[0] and "token_hash" not in listing[0]

    # each service reports health and what its projections applied
    for name, port in stack.ops.items():
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok", name
    metrics = httpx.get(f"http://127.0.0.1:{stack.ops['intake']}/metrics").text
    applied = [line for line in metrics.splitlines() if line.startswith("peerline_projection_events_total{")]
    assert applied and float(applied[0].rsplit(" ", 1)[1]) >= 2


def test_requester_cancels_with_the_case_token(stack: Cluster) -> None:
    agency = "county-ems"
    body = httpx.post(
        f"{stack.url('intake')}/v1/requests",
        json={"agency": agency, "activation": "post_incident"},
        headers={"Authorization": f"Bearer {stack.token('member', agency)}"},
    ).json()
    wait_for_status(stack, body["case_id"], body["case_token"], "offered")
    wrong = httpx.post(
        f"{stack.url('intake')}/v1/requests/{body['case_id']}/cancel", headers={"X-Case-Token": "guess"}
    )
    assert wrong.status_code == 404
    r = httpx.post(
        f"{stack.url('intake')}/v1/requests/{body['case_id']}/cancel",
        headers={"X-Case-Token": body["case_token"]},
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    wait_for_status(stack, body["case_id"], body["case_token"], "cancelled")
    again = httpx.post(
        f"{stack.url('intake')}/v1/requests/{body['case_id']}/cancel",
        headers={"X-Case-Token": body["case_token"]},
    )
    assert again.status_code == 409
