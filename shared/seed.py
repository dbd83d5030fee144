"""The demo region `peerline up` starts with: three agencies and thirty peers. Safe to run again."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

from nats.js import JetStreamContext

from shared.contracts.base import Event
from shared.contracts.matching import ConfidentialityAcknowledged, PeerAvailabilityChanged, PeerEnrolled
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict, EventStore

SOURCE = "peerline/seed"
AGENCIES: dict[str, tuple[str, ...]] = {
    "riverton-fire": ("fire", "fire", "fire", "ems", "fire", "fire", "dispatch", "fire", "ems", "fire"),
    "riverton-police": (
        "police",
        "police",
        "police",
        "dispatch",
        "police",
        "police",
        "police",
        "corrections",
        "police",
        "police",
    ),
    "county-ems": ("ems", "ems", "dispatch", "ems", "ems", "ems", "dispatch", "ems", "ems", "ems"),
}
LANGUAGES = (("en",), ("en", "es"), ("en",), ("en", "fr"), ("en",))


UNITS = ("unit-1", "unit-2", "unit-3", "unit-4")


def demo_codes(path: Path) -> Path:
    """The demo region's code list (every agency: units 1-4), written once; an edited file is kept."""
    if not path.exists():
        path.write_text(json.dumps({"*": {"units": list(UNITS)}}, indent=2) + "\n")
    return path


def demo_peers() -> list[tuple[str, str, list[Event]]]:
    """(agency, peer_ref, events). Every tenth peer is off duty, so matching has someone to skip."""
    out = []
    for agency, disciplines in AGENCIES.items():
        for n, discipline in enumerate(disciplines, start=1):
            events: list[Event] = [
                PeerEnrolled(discipline=discipline, unit=UNITS[n % 4], languages=LANGUAGES[n % 5]),
                ConfidentialityAcknowledged(policy_version="2026-1"),
                PeerAvailabilityChanged(available=n != 7),
            ]
            out.append((agency, f"p-{agency}-{n:02d}", events))
    return out


async def seed(js: JetStreamContext, at: datetime | None = None) -> int:
    """Append the demo peers that are not there yet, enrolled at `at` (default: now); returns how many
    were added."""
    store = EventStore(js)
    added = 0
    for agency, peer_ref, events in demo_peers():
        envs = [
            Envelope.wrap(
                e,
                agency=agency,
                subject=peer_ref,
                source=SOURCE,
                time=at,
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-seed/{peer_ref}/{i}")),
            )
            for i, e in enumerate(events)
        ]
        try:
            await store.append(envs, expected=0)
            added += 1
        except ConcurrencyConflict:
            continue  # seeded before
    return added
