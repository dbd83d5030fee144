"""One bad peer record never stalls matching: a peer whose stored state cannot be evaluated (a break
without a time zone, a time zone that is not a zone) is skipped, logged and counted, and the requests of
its agency and of the regional pool are still assigned."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shared.contracts.intake import Preferences, SupportRequested
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore
from shared.seed import seed

pytestmark = pytest.mark.integration
AGENCY = "riverton-fire"


def raw_event(peer_ref: str, name: str, data: dict[str, Any], n: int) -> bytes:
    """An event as an older, less careful version of the peer directory could have appended it."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"e-poison-{peer_ref}-{n}",
            "source": "peerline/matching",
            "type": f"peerline.{name}.v1",
            "subject": peer_ref,
            "time": datetime.now(UTC).isoformat(),
            "agency": AGENCY,
            "data": data,
        }
    ).encode()


async def poison(js: Any, peer_ref: str, last: tuple[str, dict[str, Any]]) -> None:
    events = [
        ("peer_enrolled", {"discipline": "fire", "languages": ["en"]}),
        ("confidentiality_acknowledged", {}),
        ("peer_availability_changed", {"available": True}),
        last,
    ]
    for n, (name, data) in enumerate(events):
        subject = f"ev.{AGENCY}.peer.{peer_ref}.{name}"
        await js.publish(subject, raw_event(peer_ref, name, data, n), stream=STREAM)


def skipped() -> float:
    return REGISTRY.get_sample_value("peerline_matching_peer_records_skipped_total") or 0.0


async def test_a_poisoned_peer_is_skipped_and_every_request_is_still_assigned(log: Any, launch: Any) -> None:
    js = log.nc.jetstream()
    await seed(js)
    naive_break = (
        "peer_availability_changed",
        {"available": False, "reason": "break", "until": "2099-01-01T00:00"},
    )
    bad_zone = (
        "peer_availability_windows_set",
        {"windows": [{"day": d, "start": "00:00", "end": "24:00"} for d in range(7)], "tz": "/etc/passwd"},
    )
    await poison(js, "p-naive", naive_break)
    await poison(js, "p-badzone", bad_zone)
    before = skipped()
    await launch("a")
    store = EventStore(js)
    requests = {
        "c-own": Preferences(agency_scope="own"),
        "c-region": Preferences(agency_scope="any"),
    }
    for case_id, prefs in requests.items():
        request = SupportRequested(
            activation="self", member_ref=f"m-{case_id}", token_hash="0" * 64, preferences=prefs
        )
        await store.append([Envelope.wrap(request, agency=AGENCY, subject=case_id, source="t")], 0)
    for _ in range(200):
        cases = await log.cases()
        assigned = {c for c in requests if any(e.event_name == "peer_assigned" for _, e in cases.get(c, []))}
        if assigned == set(requests):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"requests left waiting behind a poisoned peer: {set(requests) - assigned}")
    for case_id in requests:
        offer = next(e.payload() for _, e in cases[case_id] if e.event_name == "peer_assigned")
        assert offer.peer_ref not in ("p-naive", "p-badzone")  # type: ignore[attr-defined]
    assert skipped() - before >= 2
