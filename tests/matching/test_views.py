"""Matching's read-side queries: recent offers from per-day counts, and a view made before they existed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from services.matching import queries as views
from services.matching.commands.assigner import Assigner, Delivered
from services.matching.domain.peers import Policy
from services.matching.projection import DirectoryProjection
from services.matching.tables import metadata, offer_days, offers
from shared.clock import FakeClock
from shared.contracts.intake import SupportRequested
from shared.contracts.matching import PeerAssigned
from shared.db import make_engine
from shared.envelope import Envelope
from shared.items import item_of
from shared.projection import apply_batch, ensure_schema
from shared.seed import demo_peers
from tests.pg import fresh_database

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
# 40 offers over ten days, at hours that straddle midnight, to 3 peers
TIMES = [START + timedelta(hours=7 * n + 0.5) for n in range(40)]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/view.db")
    return make_engine(fresh_database(request.getfixturevalue("pg_url"), "m"))


def offered(n: int, at: datetime) -> Envelope:
    event = PeerAssigned(peer_ref=f"p{n % 3}", peer_agency="cfd", assignment_id=f"c{n}-a1")
    return Envelope.wrap(event, agency="cfd", subject=f"c{n}", source="test", time=at)


def counted_one_by_one(at: datetime, days: float) -> dict[str, int]:
    since = at - timedelta(days=days)
    return dict(Counter(f"p{n % 3}" for n, t in enumerate(TIMES) if t >= since))


def recent(engine: Engine, at: datetime, days: float) -> dict[str, int]:
    with engine.connect() as conn:
        return views.recent_offers(conn, at, days)


WINDOWS = [
    (START + timedelta(days=d, hours=h), days)
    for d in (0, 3, 9, 12)
    for h in (0, 5.25, 23.9)
    for days in (0.5, 1, 2.75, 7)
]


def test_recent_offers_count_what_the_offers_themselves_count(engine: Engine) -> None:
    projection = DirectoryProjection()
    ensure_schema(engine, projection)
    apply_batch(engine, projection, [item_of(offered(n, t), n + 1) for n, t in enumerate(TIMES)])
    for at, days in WINDOWS:
        assert recent(engine, at, days) == counted_one_by_one(at, days), (at, days)


def test_a_view_made_before_the_day_counts_gets_them_from_its_offers(engine: Engine) -> None:
    older = [t for t in metadata.sorted_tables if t.name != offer_days.name]
    metadata.create_all(engine, tables=older)
    with engine.begin() as conn:
        rows = [
            {"assignment_id": f"c{n}-a1", "peer_ref": f"p{n % 3}", "offered_at": t}
            for n, t in enumerate(TIMES)
        ]
        conn.execute(offers.insert(), rows)
    ensure_schema(engine, DirectoryProjection())
    with engine.connect() as conn:
        assert sum(n for (n,) in conn.execute(select(offer_days.c.offers))) == len(TIMES)
    for at, days in WINDOWS:
        assert recent(engine, at, days) == counted_one_by_one(at, days), (at, days)


def with_demo_peers(engine: Engine, projection: DirectoryProjection) -> int:
    """The view with the demo region's peers applied; returns the last sequence used."""
    ensure_schema(engine, projection)
    seq, items = 0, []
    for agency, ref, events in demo_peers():
        for e in events:
            seq += 1
            items.append(item_of(Envelope.wrap(e, agency=agency, subject=ref, source="seed"), seq))
    apply_batch(engine, projection, items)
    return seq


async def test_the_fast_path_reads_the_view_again_once_it_moves(engine: Engine) -> None:
    """Decisions read the directory once per position of the view: an offer the view applies since
    shows in the next decision's load and recent offers."""
    projection = DirectoryProjection()
    seq = with_demo_peers(engine, projection)
    assigner = Assigner(engine, FakeClock(), lambda _agency: Policy())

    async def decide(n: int) -> PeerAssigned:
        nonlocal seq
        seq += 1
        payload = SupportRequested(activation="self", member_ref=f"m-{n}", token_hash="0" * 64)
        env = Envelope.wrap(payload, agency="riverton-fire", subject=f"c-{n}", source="test")
        prepared = await assigner.prepare([Delivered(env, seq, {})])
        [[event]] = prepared.decided
        assigner.ledger.release(prepared.decided[0])  # not appended: only the view will know of it
        assert isinstance(event, PeerAssigned)
        return event

    first = await decide(1)
    seq += 1
    offer = Envelope.wrap(first, agency="riverton-fire", subject="c-1", source="test", time=FakeClock().now())
    apply_batch(engine, projection, [item_of(offer, seq)])
    second = await decide(2)
    assert second.peer_ref != first.peer_ref
    assert second.explanation is not None
    ranked = dict(second.explanation.ranked)
    assert ranked[first.peer_ref] > max(v for ref, v in ranked.items() if ref != first.peer_ref)


async def test_a_request_the_view_shows_decided_is_not_decided_again(engine: Engine) -> None:
    """A redelivered or replayed `support_requested` whose case the view already shows assigned gets no
    pick (none held against a peer either); a new one in the same batch does."""
    projection = DirectoryProjection()
    seq = with_demo_peers(engine, projection)
    old = PeerAssigned(peer_ref="p-x", peer_agency="riverton-fire", assignment_id="c-old-a1")
    apply_batch(
        engine,
        projection,
        [item_of(Envelope.wrap(old, agency="riverton-fire", subject="c-old", source="t"), seq + 1)],
    )
    assigner = Assigner(engine, FakeClock(), lambda _agency: Policy())

    def requested(case_id: str, at: int) -> Delivered:
        payload = SupportRequested(activation="self", member_ref=f"m-{case_id}", token_hash="0" * 64)
        return Delivered(Envelope.wrap(payload, agency="riverton-fire", subject=case_id, source="t"), at, {})

    prepared = await assigner.prepare([requested("c-old", seq + 2), requested("c-new", seq + 3)])
    again, new = prepared.decided
    assert again == []
    assert len(new) == 1 and isinstance(new[0], PeerAssigned)
    assert sum(assigner.ledger.inflight.values()) == 1  # only the new case's pick is held
