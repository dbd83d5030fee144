"""A peer's folded state as JSON, for the directory view (and back)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from services.matching.domain.peers import Peer
from shared.contracts.matching import AvailabilityWindow

_TIMES = ("break_until", "confirmed_at")


_FIELDS = tuple(f.name for f in dataclasses.fields(Peer))  # scalars and tuples of str, windows aside


def peer_to_json(peer: Peer) -> str:
    data: dict[str, Any] = {name: getattr(peer, name) for name in _FIELDS}  # asdict would deep-copy each
    data["windows"] = [w.model_dump() for w in peer.windows]
    for key in _TIMES:
        value = getattr(peer, key)
        data[key] = value.isoformat() if value else None
    return json.dumps(data, sort_keys=True)


def peer_from_json(text: str) -> Peer:
    data: dict[str, Any] = json.loads(text)
    data["languages"] = tuple(data["languages"])
    data["supervisor_refs"] = tuple(data["supervisor_refs"])
    data["windows"] = tuple(AvailabilityWindow.model_validate(w) for w in data["windows"])
    for key in _TIMES:
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    return Peer(**{k: v for k, v in data.items() if k in _FIELDS})
