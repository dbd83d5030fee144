"""Realistic `support_requested` events, built (and serialised) before anything is timed."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import get_args

from shared.contracts.intake import Activation, AgencyScope, Preferences, SupportRequested
from shared.envelope import Envelope, new_id
from shared.eventstore import headers_for

AGENCIES = ("metro-fire", "county-ems", "state-police", "harbor-pd", "valley-dispatch", "north-sheriff")
DISCIPLINES = ("fire", "ems", "police", "dispatch", "corrections", None)
LANGUAGES = ("en", "es", "fr", None, None)
HISTORY = timedelta(weeks=26)  # event times spread over half a year: many agency/week rows


@dataclass(frozen=True)
class Outgoing:
    """One event ready for the wire: subject, JSON bytes and the headers the EventStore would send."""

    subject: str
    data: bytes
    headers: tuple[tuple[str, str], ...]

    def header_dict(self) -> dict[str, str]:
        return dict(self.headers)  # a fresh dict: nats-py adds to the one it is given


def support_requests(n: int, *, agencies: tuple[str, ...] = AGENCIES, seed: int = 7) -> list[Outgoing]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    activations: tuple[Activation, ...] = get_args(Activation)
    scopes: tuple[AgencyScope, ...] = get_args(AgencyScope)
    out: list[Outgoing] = []
    for _ in range(n):
        payload = SupportRequested(
            activation=rng.choice(activations),
            discipline=rng.choice(DISCIPLINES),
            member_ref=new_id("m"),
            preferences=Preferences(agency_scope=rng.choice(scopes), language=rng.choice(LANGUAGES)),
            token_hash=hashlib.sha256(rng.randbytes(16)).hexdigest(),
        )
        env = Envelope.wrap(
            payload,
            agency=rng.choice(agencies),
            subject=new_id("c"),
            source="peerline.intake",
            time=now - HISTORY * rng.random(),
        )
        out.append(Outgoing(env.nats_subject, env.to_bytes(), tuple(headers_for(env).items())))
    return out
