"""Through matching's HTTP API and the log: a coordinator reassigns a case by hand, and a peer who is
deselected or goes on a break has their open case handed on (a durable timer), never left with them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.matching.conftest import Log
from tests.matching.test_api import A, Client, client, new_peer, request_support

pytestmark = pytest.mark.integration
__all__ = ["client"]


async def case_events(log: Log, case_id: str, name: str, count: int) -> list[Any]:
    for _ in range(200):
        found = [env for _, env in (await log.cases(f"ev.{A}.case.{case_id}.{name}")).get(case_id, [])]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id}: fewer than {count} {name}")


async def test_reassign_then_deselection_then_break_each_hand_the_case_on(client: Client, log: Log) -> None:
    peers = [await new_peer(client, discipline="fire") for _ in range(3)]
    case_id = await request_support(log.nc.jetstream())
    [first] = await case_events(log, case_id, "peer_assigned", 1)
    others = [p for p in peers if p != first.data["peer_ref"]]

    path = f"/v1/agencies/{A}/cases/{case_id}/assignment"
    r = await client.call("POST", path, json={"peer_ref": others[0]})
    assert r.status_code == 200 and r.json()["events"] == ["assignment_declined", "peer_assigned"], r.text
    again = await client.call("POST", path, json={"peer_ref": others[0]})
    assert again.status_code == 409 and "already with this peer" in again.text
    assert (await client.call("POST", path, json={"peer_ref": "not a ref"})).status_code == 422
    other_agency = await client.call(
        "POST", path.replace(A, "county-ems"), "coordinator", "county-ems", json={"peer_ref": others[0]}
    )
    assert other_agency.status_code == 404, "a case is found only in its own agency"

    r = await client.call(
        "POST", f"/v1/agencies/{A}/peers/{others[0]}/deselection", json={"reason": "left_agency"}
    )
    assert r.status_code == 200, r.text
    declined = await case_events(log, case_id, "assignment_declined", 2)
    assert [(d.data["peer_ref"], d.data["handed_on"]) for d in declined] == [
        (first.data["peer_ref"], "reassigned"),
        (others[0], "peer_deselected"),
    ]
    third = (await case_events(log, case_id, "peer_assigned", 3))[2]
    assert third.data["peer_ref"] == others[1]

    body = {"available": False, "reason": "break"}
    r = await client.call(
        "PUT", f"/v1/agencies/{A}/peers/{others[1]}/availability", "peer", A, others[1], json=body
    )
    assert r.status_code == 200, r.text
    declined = await case_events(log, case_id, "assignment_declined", 3)
    assert (declined[2].data["peer_ref"], declined[2].data["handed_on"]) == (others[1], "peer_on_break")
    [unmatched] = await case_events(log, case_id, "request_unmatched", 1)  # everyone else was tried
    assert unmatched.data["explanation"]["considered"] == 3
