"""A request is checked whole before anything is written: no identity is sealed, and no
`member_registered` appended, for a request that is then refused. Coded fields keep only codes of the
agency's list (anything else is `other`); a language is a BCP 47 tag; a named peer an id."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.intake.vault import data_keys
from shared.contracts.intake import SupportRequested
from tests.intake.conftest import World

pytestmark = pytest.mark.integration
A = "riverton-fire"
IDENTITY = {"name": "Kwame Osei", "email": "k.osei@example.org"}


def sealed_keys(world: World) -> int:
    with world.intake.vault.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(data_keys)).scalar_one())


async def test_a_bad_preference_after_an_identity_writes_nothing(world: World) -> None:
    bad = [
        b'{"agency": "riverton-fire", "activation": "self", "identity": {"name": "Kwame Osei"},'
        b' "preferences": {"language": "\\ud800"}}',
        b'{"agency": "riverton-fire", "activation": "self", "identity": {"name": "Kwame Osei"},'
        b' "preferences": {"language": "klingon, please!"}}',
        b'{"agency": "riverton-fire", "activation": "self", "identity": {"name": "Kwame Osei"},'
        b' "preferences": {"peer_ref": "Ask for Dana in Station 4"}}',
    ]
    for body in bad:
        r = await world.client.post(
            "/v1/requests",
            content=body,
            headers={**world.auth("member", A), "content-type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert "Kwame" not in r.text and "Dana" not in r.text
    assert await world.events() == []
    assert sealed_keys(world) == 0


async def test_free_text_in_coded_fields_is_recorded_as_other(world: World) -> None:
    body = {
        "agency": A,
        "activation": "self",
        "identity": IDENTITY,
        "unit": "Capt Miller's crew (the drunk one)",
        "discipline": "Fire Dept HQ",
        "preferences": {"language": "ES_419", "peer_discipline": "someone kind"},
    }
    r = await world.client.post("/v1/requests", json=body, headers=world.auth("member", A))
    assert r.status_code == 201, r.text
    body.update(unit="station-7", discipline="ems", preferences={"language": "en", "peer_discipline": "fire"})
    r = await world.client.post("/v1/requests", json=body, headers=world.auth("member", A))
    assert r.status_code == 201, r.text
    cases = [e.payload() for e in await world.events("ev.*.case.>")]
    assert all(isinstance(c, SupportRequested) for c in cases)
    coded = [(c.unit, c.discipline, c.preferences.language, c.preferences.peer_discipline) for c in cases]  # type: ignore[union-attr]
    assert coded == [("other", "other", "es-419", "other"), ("station-7", "ems", "en", "fire")]
    members = [e.payload() for e in await world.events("ev.*.member.>")]
    assert [m.discipline for m in members] == ["other", "ems"]  # type: ignore[attr-defined]
