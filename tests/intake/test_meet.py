"""The member meets the peer, through intake's HTTP API on real JetStream: the member's view at each
step (requested → offered → accepted → closed) with the agency's crisis lines; the accepting peer's card
asked of matching over NATS; a callback sealed for one case, released to the accepting peer alone and
shredded (unrecoverable) when the case closes, is cancelled or goes to another peer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from nats.aio.msg import Msg
from sqlalchemy import select

from services.intake.vault.callbacks import callback_keys
from services.intake.vault.keys import KeyUnavailable
from shared.contracts.base import Event
from shared.contracts.intake import RequestCancelled
from shared.contracts.matching import (
    PEER_CARD_SUBJECT,
    AssignmentAccepted,
    PeerAssigned,
    PeerCard,
    PeerCardReply,
    PeerCardRequest,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed
from shared.envelope import Envelope
from tests.support import numbers

from .conftest import World

pytestmark = pytest.mark.integration
A = "riverton-fire"
NUMBER = "+1 555 0100 777"


async def append(world: World, case_id: str, *events: Event, agency: str = A) -> None:
    envs = [Envelope.wrap(e, agency=agency, subject=case_id, source="peerline/test") for e in events]
    await world.intake.store().append(envs, expected=None)
    await world.cases.caught_up()


async def open_case(world: World) -> tuple[str, dict[str, str]]:
    r = await world.client.post(
        "/v1/requests", json={"agency": A, "activation": "self"}, headers=world.auth("member", A)
    )
    assert r.status_code == 201, r.text
    await world.cases.caught_up()
    return r.json()["case_id"], {"X-Case-Token": r.json()["case_token"]}


async def accept(world: World, case_id: str, peer: str) -> None:
    assignment = f"a-{uuid.uuid4().hex[:8]}"
    await append(
        world,
        case_id,
        PeerAssigned(peer_ref=peer, peer_agency=A, assignment_id=assignment),
        AssignmentAccepted(peer_ref=peer, assignment_id=assignment),
    )


async def accepted_with_callback(world: World, peer: str) -> str:
    """A case the member left a callback on, accepted by `peer`. Returns the case id."""
    case_id, token = await open_case(world)
    r = await world.client.post(
        f"/v1/requests/{case_id}/callback", json={"channel": "phone", "number": NUMBER}, headers=token
    )
    assert r.status_code == 201, r.text
    await accept(world, case_id, peer)
    return case_id


async def shredded(world: World, case_id: str) -> None:
    """The case's projection destroys the callback key as it applies the settling event."""
    for _ in range(100):
        try:
            world.intake.vault.callbacks.open(case_id)
        except KeyUnavailable:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the callback of {case_id} can still be opened")


async def view(world: World, case_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = await world.client.get(f"/v1/requests/{case_id}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_the_member_sees_each_step_and_the_peer_who_accepted(world: World) -> None:
    asked: list[PeerCardRequest] = []

    async def matching(msg: Msg) -> None:  # stands in for matching's answer on the bus
        asked.append(PeerCardRequest.model_validate_json(msg.data))
        card = PeerCard(display_name="Sam", discipline="fire", agency=A, phone="+1 555 0100 222")
        await msg.respond(PeerCardReply(ok=True, card=card).model_dump_json().encode())

    await world.nc.subscribe(PEER_CARD_SUBJECT, queue="matching-cards", cb=matching)
    world.intake.cards.connect(world.nc)
    case_id, token = await open_case(world)
    first = await view(world, case_id, token)
    assert first["status"] == "requested" and first["peer"] is None and first["who_contacts"] is None
    assert any(line["call"] == "988" for line in first["crisis_lines"])
    assert first["crisis_lines_prominent"] is False
    await append(world, case_id, PeerAssigned(peer_ref="p-1", peer_agency=A, assignment_id="a-1"))
    assert (await view(world, case_id, token))["status"] == "offered"
    assert asked == []  # nobody is named before they accept
    await append(world, case_id, AssignmentAccepted(peer_ref="p-1", assignment_id="a-1"))
    accepted = await view(world, case_id, token)
    assert accepted["status"] == "accepted" and accepted["who_contacts"] == "member_contacts_peer"
    assert accepted["peer"] == {
        "display_name": "Sam",
        "discipline": "fire",
        "agency": A,
        "phone": "+1 555 0100 222",
        "text": None,
    }
    assert asked == [PeerCardRequest(agency=A, case_id=case_id)]
    await append(world, case_id, CaseClosed())
    closed = await view(world, case_id, token)
    assert closed["status"] == "closed" and closed["peer"] is None and closed["crisis_lines"]
    assert "Sam" not in str([e.data for e in await world.events()])


async def test_an_unmatched_member_sees_the_crisis_lines_prominently(world: World) -> None:
    case_id, token = await open_case(world)
    await append(world, case_id, RequestUnmatched(reason="no eligible peer"))
    seen = await view(world, case_id, token)
    assert seen["status"] == "unmatched" and seen["crisis_lines_prominent"] is True


async def test_a_logged_in_member_sees_their_own_case_and_no_one_elses(world: World) -> None:
    me = world.auth("member", A, "u-login")  # the vault resolves the sign-in to the member's pseudonym
    r = await world.client.post("/v1/requests", json={"agency": A, "activation": "self"}, headers=me)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    await world.cases.caught_up()
    mine = await view(world, case_id, me)
    assert mine["case_id"] == case_id and mine["status"] == "requested"
    for other in (world.auth("member", A, "u-other"), world.auth("peer", A, "u-login"), {}):
        assert (await world.client.get(f"/v1/requests/{case_id}", headers=other)).status_code == 404


async def test_a_callback_goes_to_the_accepting_peer_alone_then_is_shredded(world: World) -> None:
    case_id = await accepted_with_callback(world, "p-1")
    url = f"/v1/agencies/{A}/cases/{case_id}/callback"
    assert (await world.client.get(url, headers=world.auth("peer", A, "p-2"))).status_code == 403
    got = await world.client.get(url, headers=world.auth("peer", A, "p-1"))
    assert got.status_code == 200 and got.json() == {"case_id": case_id, "channel": "phone", "number": NUMBER}
    await world.cases.caught_up()
    events = await world.events(f"ev.{A}.case.{case_id}.>")
    names = [e.event_name for e in events]
    assert names.count("callback_left") == 1 and names.count("callback_released") == 1
    released = next(e for e in events if e.event_name == "callback_released")
    assert released.data["peer_ref"] == "p-1" and set(released.data) == {"peer_ref", "assignment_id"}
    assert not numbers.shows(
        str([e.data for e in await world.events()]), NUMBER
    )  # the number never reaches the log
    again = await world.client.get(url, headers=world.auth("peer", A, "p-1"))
    assert again.status_code == 200  # the same peer may read it again while the case is open

    await append(world, case_id, CaseClosed())
    assert (await world.client.get(url, headers=world.auth("peer", A, "p-1"))).status_code == 403
    callbacks = world.intake.vault.callbacks
    with pytest.raises(KeyUnavailable):
        callbacks.open(case_id)
    assert callbacks.sealed(case_id) is not None  # the ciphertext is left, and nothing opens it
    with world.intake.vault.engine.connect() as conn:
        assert conn.execute(select(callback_keys).where(callback_keys.c.case_id == case_id)).first() is None
    vault_bytes = (world.var_dir / "intake-vault.db").read_bytes()
    assert NUMBER.encode() not in vault_bytes


@pytest.mark.parametrize("settle", ["cancelled", "reassigned"])
async def test_a_callback_is_shredded_when_the_case_is_cancelled_or_goes_to_another_peer(
    world: World, settle: str
) -> None:
    case_id = await accepted_with_callback(world, "p-1")
    if settle == "cancelled":
        await append(world, case_id, RequestCancelled())
    else:
        await accept(world, case_id, "p-2")
    await shredded(world, case_id)
    for peer in ("p-1", "p-2"):
        r = await world.client.get(
            f"/v1/agencies/{A}/cases/{case_id}/callback", headers=world.auth("peer", A, peer)
        )
        assert r.status_code == 403


async def test_a_callback_needs_the_case_token_an_open_case_and_a_number(world: World) -> None:
    case_id, token = await open_case(world)
    url = f"/v1/requests/{case_id}/callback"
    body = {"channel": "text", "number": NUMBER}
    assert (await world.client.post(url, json=body, headers={"X-Case-Token": "guess"})).status_code == 404
    bad = await world.client.post(url, json={"channel": "text", "number": "call me"}, headers=token)
    assert bad.status_code == 422 and "call me" not in bad.text
    await append(world, case_id, RequestCancelled())
    assert (await world.client.post(url, json=body, headers=token)).status_code == 409


async def test_anyone_reads_the_agencys_advisement_crisis_lines_and_resources_without_signing_in(
    world: World,
) -> None:
    r = await world.client.get(f"/v1/agencies/{A}/public")  # no token of any kind
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["agency"] == A and found["advisement"]["limits"]
    assert any(line["call"] == "988" for line in found["crisis_lines"])
    kinds = {res["kind"] for res in found["resources"]}
    assert kinds == {"crisis_line", "employee_assistance", "clinician", "chaplain"}
    bad = await world.client.get("/v1/agencies/Not%20An%20Agency/public")
    assert bad.status_code == 422 and "Not An Agency" not in bad.text
