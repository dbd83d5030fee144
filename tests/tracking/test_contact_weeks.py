"""A contact is reported for a recent week only (the current one or two before it), and never into an
ended quarter: a published quarter's counts are final. The clock stands at 2026-W02, then mid-Q1."""

from __future__ import annotations

import pytest

from shared.clock import FakeClock
from tests.tracking.test_api import CONTACT, Env, env  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


async def report(on: Env, week: str) -> tuple[int, str]:
    case_id = await on.open_case("p-one")
    url = f"/v1/agencies/{on.agency}/cases/{case_id}/contacts"
    r = await on.client.post(url, json={**CONTACT, "week": week}, headers=on.auth("peer", sub="p-one"))
    return r.status_code, r.text


async def test_back_dated_and_frozen_weeks_are_refused(env: Env) -> None:  # noqa: F811
    assert (await report(env, "2026-W02"))[0] == 201
    for week, why in [
        ("0001-W01", "within"),
        ("2025-W53", "ISO week"),  # 2025 has 52 ISO weeks
        ("2025-W52", "published"),  # last week of Q4 2025: ended, published
        ("2026-W03", "future"),
    ]:
        status, text = await report(env, week)
        assert status == 422 and why in text, (week, status, text)
    assert (await report(env, "2026-W01"))[0] == 201
    clock = env.app.clock
    assert isinstance(clock, FakeClock)
    clock.advance(weeks=6)  # 2026-W08
    for week, expected in [("2026-W08", 201), ("2026-W06", 201), ("2026-W05", 422), ("2026-W01", 422)]:
        assert (await report(env, week))[0] == expected, week
