"""The CAD roster over HTTP: a batch is mapped and read back; a CAD id already held by another member is
never moved (409 naming the entry, nothing of the batch imported), whether by the roster or at
registration; mapping an id again to its own member is a no-op."""

from __future__ import annotations

import pytest

from tests.intake.conftest import World

pytestmark = pytest.mark.integration
A = "riverton-fire"
ROSTER = f"/v1/agencies/{A}/roster"


async def member(world: World, name: str, **more: object) -> str:
    body = {"agency": A, "identity": {"name": name}, **more}
    r = await world.client.post("/v1/members", json=body, headers=world.auth("coordinator", A))
    assert r.status_code == 201, r.text
    return str(r.json()["member_ref"])


async def read_back(world: World, *cad_ids: str) -> dict[str, str | None]:
    r = await world.client.post(
        f"{ROSTER}/lookup", json={"cad_ids": list(cad_ids)}, headers=world.auth("coordinator", A)
    )
    assert r.status_code == 200, r.text
    found: dict[str, str | None] = r.json()["members"]
    return found


async def test_an_id_is_mapped_read_back_and_never_moved_to_another_member(world: World) -> None:
    ada, ben = await member(world, "Ada"), await member(world, "Ben")
    coordinator = world.auth("coordinator", A)
    entries = [{"cad_id": "RFD-11", "member_ref": ada}, {"cad_id": "RFD-12", "member_ref": ben}]
    r = await world.client.put(ROSTER, json={"entries": entries}, headers=coordinator)
    assert r.status_code == 200 and r.json() == {"mapped": 2}
    assert await read_back(world, "RFD-11", "RFD-12", "RFD-99") == {
        "RFD-11": ada,
        "RFD-12": ben,
        "RFD-99": None,
    }

    again = [{"cad_id": "RFD-11", "member_ref": ada}, {"cad_id": "RFD-13", "member_ref": ben}]
    assert (await world.client.put(ROSTER, json={"entries": again}, headers=coordinator)).status_code == 200

    moved = [{"cad_id": "RFD-14", "member_ref": ada}, {"cad_id": "RFD-12", "member_ref": ada}]
    r = await world.client.put(ROSTER, json={"entries": moved}, headers=coordinator)
    assert r.status_code == 409 and r.json()["detail"].startswith("entries.1.cad_id: already mapped")
    assert "RFD-12" not in r.text, "the conflict is named by its position, never its value"
    assert await read_back(world, "RFD-12", "RFD-14") == {"RFD-12": ben, "RFD-14": None}, "all or nothing"

    r = await world.client.post(
        "/v1/members",
        json={"agency": A, "identity": {"name": "Cy"}, "cad_ids": ["RFD-12"]},
        headers=coordinator,
    )
    assert r.status_code == 409 and "cad_ids.0" in r.json()["detail"]
    assert await read_back(world, "RFD-12") == {"RFD-12": ben}


async def test_the_roster_is_read_only_within_the_agency(world: World) -> None:
    r = await world.client.post(
        f"{ROSTER}/lookup", json={"cad_ids": ["RFD-11"]}, headers=world.auth("coordinator", "county-ems")
    )
    assert r.status_code == 403
    r = await world.client.post(
        f"{ROSTER}/lookup", json={"cad_ids": []}, headers=world.auth("coordinator", A)
    )
    assert r.status_code == 422 and "cad_ids" in r.text
