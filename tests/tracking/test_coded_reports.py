"""A report's column labels are configured codes only: a unit someone typed that is not on the agency's
code list is counted as `other`, never shown as a label (suppressed or not)."""

from __future__ import annotations

import pytest

from tests.tracking.test_api import CONTACT, Env, env  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


async def test_a_typed_unit_is_never_a_column_label(env: Env) -> None:  # noqa: F811
    typed = "capt-miller-drinks-on-shift"
    for unit in ("st-9", typed, "st-9"):
        case_id = await env.open_case("p-one", unit=unit)
        url = f"/v1/agencies/{env.agency}/cases/{case_id}/contacts"
        r = await env.client.post(url, json=CONTACT, headers=env.auth("peer", sub="p-one"))
        assert r.status_code == 201, r.text
    await env.catch_up()
    leader = env.auth("leader")
    r = await env.client.get(f"/v1/agencies/{env.agency}/reports/contacts?by=unit&format=csv", headers=leader)
    assert r.status_code == 200, r.text
    assert r.text.splitlines()[0] == "week,other,st-9,total", r.text
    assert "miller" not in r.text
