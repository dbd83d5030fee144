"""The peer's side of meeting a member, through matching's HTTP API and the bus: a peer lists the offers
waiting for them (with `respond_by`), publishes a display name and work channels (sealed, never in the
log), and after accepting, matching answers intake with that card; before, nobody is named. Peers notify
reports unreachable are left out, but only in agencies notify has reported on (or by policy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.auth import generate_dev_keys
from shared.contracts.matching import PEER_CARD_SUBJECT, PeerCardReply, PeerCardRequest
from shared.contracts.notify import PeerReachabilityChanged
from shared.envelope import Envelope
from shared.eventstore import EventStore
from tests.support.bus import connect

from .test_api import A, B, Client, eventually, new_peer, request_support

pytestmark = pytest.mark.integration
PHONE = "+1 555 0100 321"


@pytest.fixture
async def app(launch: Any, tmp_path: Path) -> Client:
    return Client(await launch("a"), generate_dev_keys(tmp_path / "keys")[0].read_bytes())


async def card(log: Any, agency: str, case_id: str) -> PeerCardReply:
    nc = await connect(log.url, user="intake")  # only intake may ask
    try:
        req = PeerCardRequest(agency=agency, case_id=case_id).model_dump_json().encode()
        return PeerCardReply.model_validate_json((await nc.request(PEER_CARD_SUBJECT, req, timeout=5)).data)
    finally:
        await nc.close()


async def reach(log: Any, agency: str, peer_ref: str, reachable: bool) -> None:
    event = PeerReachabilityChanged(peer_ref=peer_ref, reachable=reachable)
    env = Envelope.wrap(event, agency=agency, subject=peer_ref, source="peerline/notify")
    await EventStore(log.nc.jetstream()).append([env], expected=None)


async def explained(client: Client, case_id: str, agency: str = A) -> dict[str, Any]:
    url = f"/v1/agencies/{agency}/cases/{case_id}/explanation"
    found: dict[str, Any] = await eventually(client, url, lambda x: len(x["decisions"]) >= 1, agency=agency)
    return found["decisions"][-1]


async def test_a_peer_sees_their_offer_accepts_it_and_the_member_gets_their_card(
    app: Client, log: Any
) -> None:
    client = app
    peer = await new_peer(client, discipline="fire")
    profile = f"/v1/agencies/{A}/peers/{peer}/profile"
    body = {"display_name": "Sam R.", "phone": PHONE, "text": PHONE}
    assert (await client.call("PUT", profile, "peer", A, peer, json=body)).json() == body
    assert (await client.call("GET", profile, "peer", A, peer)).json() == body
    bad = await client.call("PUT", profile, "peer", A, peer, json={"phone": "ring me"})
    assert bad.status_code == 422 and "ring me" not in bad.text
    case_id = await request_support(log.nc.jetstream())
    offers = f"/v1/agencies/{A}/peers/{peer}/offers"
    [offer] = await eventually(client, offers, lambda rows: len(rows) == 1, role="peer", sub=peer)
    assert offer["case_id"] == case_id and offer["case_agency"] == A and offer["respond_by"]
    assert (await card(log, A, case_id)).ok is False  # offered, not accepted: nobody is named
    accept = f"/v1/agencies/{A}/peers/{peer}/assignments/{case_id}/accept"
    assert (await client.call("POST", accept, "peer", A, peer, json={"case_agency": A})).status_code == 200
    await eventually(client, offers, lambda rows: rows == [], role="peer", sub=peer)
    got = await card(log, A, case_id)
    assert got.ok and got.card is not None
    assert got.card.model_dump() == {
        "display_name": "Sam R.",
        "discipline": "fire",
        "agency": A,
        "phone": PHONE,
        "text": PHONE,
    }
    assert (await card(log, B, case_id)).ok is False  # the case's own agency only
    everything = await log.cases("ev.>")
    text = json.dumps([env.data for events in everything.values() for _, env in events])
    assert "Sam" not in text and "0100" not in text  # the profile never reaches the log
    stored = (client.matching.settings.var_dir / "matching.db").read_bytes()
    assert PHONE.encode() not in stored and b"Sam R." not in stored  # sealed at rest


async def test_unreachable_peers_are_left_out_once_notify_reported_on_the_agency(
    app: Client, log: Any
) -> None:
    client = app
    told, silent = await new_peer(client, discipline="fire"), await new_peer(client, discipline="fire")
    fresh = await new_peer(client, B, discipline="police")
    for agency, ref in ((A, told), (A, silent), (B, fresh)):
        ready = lambda c: c["on_duty"] and c["acknowledged"]  # noqa: E731
        await eventually(client, f"/v1/agencies/{agency}/peers/{ref}", ready, agency=agency)
    await reach(log, A, told, True)
    for ref, reachable in ((told, True), (silent, False)):
        url = f"/v1/agencies/{A}/peers/{ref}"
        await eventually(client, url, lambda c, want=reachable: c["reachable"] is want)
    fresh_card = await eventually(client, f"/v1/agencies/{B}/peers/{fresh}", lambda c: True, agency=B)
    assert fresh_card["reachable"] is None
    for _ in range(3):
        case_id = await request_support(log.nc.jetstream())
        decision = await explained(client, case_id)
        assert decision["peer_ref"] == told
        assert silent in decision["excluded"]["unreachable"]
        accept = f"/v1/agencies/{A}/peers/{told}/assignments/{case_id}/accept"
        await client.call("POST", accept, "peer", A, told, json={"case_agency": A})
    other = await request_support(log.nc.jetstream(), B)
    assert (await explained(client, other, B))["peer_ref"] == fresh  # notify never reported on B
    await reach(log, A, told, False)
    await eventually(client, f"/v1/agencies/{A}/peers/{told}", lambda c: c["reachable"] is False)
    gone = await request_support(log.nc.jetstream())
    decision = await explained(client, gone)
    assert decision["outcome"] == "unmatched"
    assert set(decision["excluded"]["unreachable"]) == {told, silent}


async def test_a_policy_can_require_a_working_channel_before_notify_reports(
    launch: Any, log: Any, tmp_path: Path
) -> None:
    app = await launch("strict", policies={A: {"require_reachable": True}})
    client = Client(app, generate_dev_keys(tmp_path / "keys")[0].read_bytes())
    peer = await new_peer(client, discipline="fire")
    await eventually(client, f"/v1/agencies/{A}/peers/{peer}", lambda c: c["on_duty"] and c["acknowledged"])
    case_id = await request_support(log.nc.jetstream())
    decision = await explained(client, case_id)
    assert decision["outcome"] == "unmatched" and decision["excluded"]["unreachable"] == [peer]
    await reach(log, A, peer, True)
    await eventually(client, f"/v1/agencies/{A}/peers/{peer}", lambda c: c["reachable"])
    again = await request_support(log.nc.jetstream())
    assert (await explained(client, again))["peer_ref"] == peer
