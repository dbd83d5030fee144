"""The demo region's activity, seeded through the services' own decisions into a real log: tracking's
leadership reports, rebuilt from it as `peerline replay tracking` does and read over HTTP, show weeks of
activity with small cells suppressed; a second seeding appends nothing, and with the mark the first one
left it does not even play the history again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from demo.seeder import seed
from services.tracking.main import Tracking, projections
from services.tracking.settings import TrackingSettings
from shared.auth import generate_dev_keys, mint
from shared.clock import FakeClock
from shared.envelope import STREAM
from shared.natsserver import NatsServer
from shared.replay import rebuild
from shared.seed import UNITS
from tests.support.bus import connect, provisioned, seeds

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # week 48: ten weeks into the quarter
WEEKS = 16  # the current quarter and the one before: the same model as the demo's year, faster


async def report(tracking: Tracking, key: bytes, name: str, by: str) -> dict[str, object]:
    token = mint(key, role="leader", agency="riverton-fire", sub="leader-1")
    transport = httpx.ASGITransport(app=tracking.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://tracking") as client:
        r = await client.get(
            f"/v1/agencies/riverton-fire/reports/{name}?by={by}",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_the_seeded_demo_region_shows_weekly_trends_with_small_cells_suppressed_and_seeds_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    url = nats_server.url
    harness = await connect(url)
    js = harness.jetstream()
    await provisioned(url)

    mark = tmp_path / "demo-seeded.json"
    first = await seed(url, seeds(url), NOW, weeks=WEEKS, mark=mark)
    assert first.peers == 30 and first.events > 5_000 and first.played == first.events
    assert first.start == NOW.replace(minute=0) - timedelta(weeks=WEEKS)  # ending at the hour before now

    private, public = generate_dev_keys(tmp_path / "keys")
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps({"*": {"units": list(UNITS)}}))
    settings = TrackingSettings(var_dir=tmp_path, jwt_public_key_file=public, codes_file=codes)
    tracking = Tracking(settings, clock=FakeClock(NOW))
    for projection, consumer in projections(settings):
        assert await rebuild(js, tracking.engine, projection, consumer) > 3_000

    key = private.read_bytes()
    weekly = await report(tracking, key, "requests", "all")
    totals = [row[0] for row in weekly["cells"]]  # type: ignore[attr-defined]
    assert sum(1 for n in totals if n) >= 6, weekly  # a trend: most weeks of the quarter shown
    by_unit = await report(tracking, key, "requests", "unit")
    cells = [n for row in by_unit["cells"] for n in row]  # type: ignore[attr-defined]
    assert None in cells, by_unit  # a unit's weekly count is a small cell: hidden
    contacts = await report(tracking, key, "contacts", "category")
    assert contacts["total"], contacts
    followups = await report(tracking, key, "followups", "status")
    assert followups["column_totals"] and any(followups["column_totals"]), followups  # type: ignore[arg-type]

    last = (await js.stream_info(STREAM)).state.last_seq
    again = await seed(url, seeds(url), NOW.replace(day=28), weeks=WEEKS, mark=mark)
    assert (again.peers, again.events, again.start, again.played) == (0, 0, first.start, 0)  # not replayed
    noted = json.loads(mark.read_text())
    mark.write_text(json.dumps({**noted, "id": "not-on-the-log"}))  # a mark is a hint: the log decides
    checked = await seed(url, seeds(url), NOW.replace(day=28), weeks=WEEKS, mark=mark)
    assert (checked.events, checked.played) == (0, first.played)  # played again, and found it all there
    assert json.loads(mark.read_text()) == noted
    assert (await js.stream_info(STREAM)).state.last_seq == last
    await harness.close()
