"""A signed-in member is the same person across requests: their member_ref is a keyed pseudonym of their
verified subject, held in the vault (the log never links it to the subject), tied by a coordinator to the
member the directory knows (a peer, a captain), and erased with their identity."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from .conftest import World

pytestmark = pytest.mark.integration
A, B = "riverton-fire", "riverton-police"


async def request(
    world: World, sub: str, agency: str = A, activation: str = "self", role: str = "member"
) -> str:
    body: dict[str, object] = {"agency": agency, "activation": activation}
    if activation != "self":  # a referral says how to reach the member
        body["identity"] = {"phone": "+1 555 010 2000"}
    r = await world.client.post("/v1/requests", json=body, headers=world.auth(role, agency, sub))  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    [opened] = await world.events(f"ev.{agency}.case.{r.json()['case_id']}.support_requested")
    return str(opened.data["member_ref"])


async def test_the_same_signed_in_member_has_the_same_member_ref_and_nobody_else_does(world: World) -> None:
    first, again = await request(world, "u-alex"), await request(world, "u-alex")
    assert first == again
    assert await request(world, "u-blair") != first
    assert await request(world, "u-alex", agency=B) != first  # a pseudonym per agency
    assert "u-alex" not in first and hashlib.sha256(b"u-alex").hexdigest()[:16] not in first
    referred = await request(world, "u-alex", activation="supervisor", role="coordinator")
    assert referred != first  # a referrer is not the member they refer


async def test_a_member_tied_to_their_sign_in_is_the_member_the_directory_knows_until_erased(
    world: World,
) -> None:
    r = await world.client.post(
        "/v1/members",
        json={"agency": A, "identity": {"name": "Captain Ruiz"}, "subject": "u-captain"},
        headers=world.auth("coordinator", A),
    )
    assert r.status_code == 201, r.text
    captain = r.json()["member_ref"]
    assert await request(world, "u-captain") == captain
    erased = await world.client.delete(
        f"/v1/members/{captain}/identity", headers=world.auth("regional_admin", A)
    )
    assert erased.status_code == 200, erased.text
    assert await request(world, "u-captain") != captain  # erased with the identity: a stranger now


async def test_a_pseudonym_alone_can_be_erased(world: World) -> None:
    ref = await request(world, "u-dana")
    erased = await world.client.delete(f"/v1/members/{ref}/identity", headers=world.auth("regional_admin", A))
    assert erased.status_code == 200, erased.text
    assert await request(world, "u-dana") != ref


async def test_a_member_signed_in_by_their_member_ref_keeps_it(world: World) -> None:
    r = await world.client.post(
        "/v1/members", json={"agency": A, "identity": {"name": "Sam"}}, headers=world.auth("coordinator", A)
    )
    ref = r.json()["member_ref"]
    assert await request(world, ref) == ref  # the identity provider maps the account to its member_ref
    assert await request(world, ref, agency=B) != ref  # not a member of riverton-police


async def test_a_members_first_requests_at_once_get_one_member_ref_and_no_error(world: World) -> None:
    """Found by the chaos run: two first requests of one person raced to create the pseudonym (500)."""
    refs = await asyncio.gather(*(request(world, "u-first-time") for _ in range(12)))
    assert len(set(refs)) == 1
