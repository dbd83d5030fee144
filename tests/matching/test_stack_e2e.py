"""With the stack up (intake + two matching processes): 100 requests from three agencies are all assigned,
and no assignment breaks a hard constraint — checked here independently of matching's own rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import mint
from shared.consumers.matching import directory_replica
from shared.contracts.base import Event
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlags,
    Involved,
    Preferences,
    SupportRequested,
)
from shared.contracts.matching import ConfidentialityAcknowledged, PeerAvailabilityChanged, PeerEnrolled
from shared.contracts.wellness import PeerBreakRequested, PeerOverloaded
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from shared.seed import AGENCIES, seed
from shared.topology import provision
from tests.support.bus import connect
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
INCIDENT = "i-structure-fire-1"


def tempting_peers(agency: str) -> list[tuple[str, list[Event]]]:
    """Peers who would be first choice (no load, language fit) but each fails one hard constraint."""
    enrolled = {"discipline": "fire", "languages": ("en", "es")}
    ok: list[Event] = [ConfidentialityAcknowledged(), PeerAvailabilityChanged(available=True)]
    return [
        (f"p-{agency}-witness", [PeerEnrolled(member_ref=f"m-{agency}-crew", **enrolled), *ok]),  # type: ignore[arg-type]
        (f"p-{agency}-boss", [PeerEnrolled(member_ref=f"m-{agency}-boss", **enrolled), *ok]),  # type: ignore[arg-type]
        (f"p-{agency}-report", [PeerEnrolled(supervisor_refs=(f"m-{agency}-asker",), **enrolled), *ok]),  # type: ignore[arg-type]
        (f"p-{agency}-tired", [PeerEnrolled(**enrolled), *ok, PeerOverloaded(reasons=("active_cases",))]),  # type: ignore[arg-type]
        (f"p-{agency}-resting", [PeerEnrolled(**enrolled), *ok, PeerBreakRequested()]),  # type: ignore[arg-type]
        (f"p-{agency}-unsworn", [PeerEnrolled(**enrolled), PeerAvailabilityChanged(available=True)]),  # type: ignore[arg-type]
    ]


async def prepare(url: str) -> None:
    nc = await connect(url)
    js = nc.jetstream()
    await provision(js)
    await js.add_consumer(STREAM, directory_replica("matching-directory-b").config())
    await seed(js)
    store = EventStore(js)
    for agency in AGENCIES:
        for ref, events in tempting_peers(agency):
            await store.append(
                [Envelope.wrap(e, agency=agency, subject=ref, source="test") for e in events], 0
            )
    crew = tuple(Involved(member_ref=f"m-{a}-crew", agency=a, role="responder") for a in AGENCIES)
    report = CriticalIncidentReported(
        incident_type="fire", agencies=tuple(AGENCIES), flags=IncidentFlags(), involved=crew
    )
    await store.append([Envelope.wrap(report, agency="riverton-fire", subject=INCIDENT, source="test")], 0)
    await nc.close()


@pytest.fixture
def stack(nats_server: NatsServer, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """intake and matching on `matching-directory`, and a second matching with its own database."""
    asyncio.run(prepare(nats_server.url))
    replica = {"PEERLINE_DIRECTORY_CONSUMER": "matching-directory-b"}
    with (
        Cluster(tmp_path / "a", services=("intake", "matching"), on=nats_server, seeded=False) as first,
        Cluster(tmp_path / "b", services=("matching",), env=replica, on=nats_server, seeded=False) as second,
    ):
        yield first.url("intake"), first.private_key
    assert first.exit_codes() == {"intake": 0, "matching": 0}, first.logs()
    assert second.exit_codes() == {"matching": 0}, second.logs()


async def append_requests(url: str, n: int) -> None:
    """Requests as intake's CAD/supervisor paths record them: behind an incident, with a chain of command."""
    nc = await connect(url)
    store = EventStore(nc.jetstream())
    for i in range(n):
        agency = list(AGENCIES)[i % 3]
        event = SupportRequested(
            activation="post_incident",
            member_ref=f"m-{agency}-asker",
            token_hash="0" * 64,
            incident_ref=INCIDENT,
            supervisor_refs=(f"m-{agency}-boss",),
            preferences=Preferences(language="es", agency_scope=("own", "any")[i % 2]),
        )
        await store.append([Envelope.wrap(event, agency=agency, subject=new_id("c"), source="test")], 0)
    await nc.close()


async def read_log(url: str) -> list[Envelope]:
    nc = await connect(url)
    js = nc.jetstream()
    sub = await js.subscribe("ev.>", stream=STREAM, ordered_consumer=True)
    out = []
    while True:
        msg = await sub.next_msg(timeout=5)
        out.append(Envelope.from_bytes(msg.data))
        if not msg.metadata.num_pending:
            break
    await nc.close()
    return out


def hard_constraint_broken(peer: dict[str, Any], request: SupportRequested, agency: str) -> str | None:
    """An independent statement of the rules: who must never be given this request."""
    crew = {f"m-{a}-crew" for a in AGENCIES} if request.incident_ref == INCIDENT else set()
    scope = request.preferences.agency_scope
    checks = {
        "not active": peer["deselected"],
        "not acknowledged": not peer["acknowledged"],
        "unavailable": not peer["available"],
        "overloaded": peer["overloaded"],
        "on a break": peer["on_break"],
        "witness": peer["member_ref"] in crew,
        "chain of command": peer["member_ref"] in request.supervisor_refs,
        "supervised by the member": request.member_ref in peer["supervisor_refs"],
        "agency preference": (scope == "own" and peer["agency"] != agency)
        or (scope == "other" and peer["agency"] == agency),
    }
    return next((name for name, broken in checks.items() if broken), None)


def test_100_requests_from_three_agencies_are_assigned_without_breaking_a_hard_constraint(
    stack: tuple[str, bytes], nats_server: NatsServer
) -> None:
    base, key = stack
    started = time.monotonic()
    with httpx.Client(base_url=base) as http:
        for i in range(60):
            agency = list(AGENCIES)[i % 3]
            prefs = {"agency_scope": ("own", "any", "other")[i % 3], "language": "es" if i % 2 else None}
            token = mint(key, role="member", agency=agency)
            r = http.post(
                "/v1/requests",
                json={"agency": agency, "activation": "self", "preferences": prefs},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201, r.text
    asyncio.run(append_requests(nats_server.url, 40))

    events: list[Envelope] = []
    while time.monotonic() - started < 30:
        events = asyncio.run(read_log(nats_server.url))
        if sum(e.event_name == "peer_assigned" for e in events) >= 100:
            break
        time.sleep(0.2)
    took = time.monotonic() - started
    peers: dict[str, dict[str, Any]] = {}
    requests: dict[str, tuple[SupportRequested, str]] = {}
    assigned: dict[str, list[str]] = {}
    for env in events:
        p = env.payload()
        if env.aggregate == "peer":
            peer = peers.setdefault(
                env.subject,
                {
                    "agency": env.agency,
                    "deselected": False,
                    "acknowledged": False,
                    "available": False,
                    "overloaded": False,
                    "on_break": False,
                    "member_ref": None,
                    "supervisor_refs": (),
                },
            )
            match p:
                case PeerEnrolled():
                    peer.update(member_ref=p.member_ref, supervisor_refs=p.supervisor_refs)
                case ConfidentialityAcknowledged():
                    peer["acknowledged"] = True
                case PeerAvailabilityChanged():
                    peer["available"] = p.available
                case PeerOverloaded():
                    peer["overloaded"] = True
                case PeerBreakRequested():
                    peer["on_break"] = True
        elif isinstance(p, SupportRequested):
            requests[env.subject] = (p, env.agency)
        elif env.event_name == "peer_assigned":
            assigned.setdefault(env.subject, []).append(p.peer_ref)  # type: ignore[attr-defined]
    assert len(requests) == 100
    assert set(assigned) == set(requests), f"{len(assigned)} of 100 assigned after {took:.1f}s"
    assert all(len(v) == 1 for v in assigned.values())
    broken = {
        case_id: (peer_ref, hard_constraint_broken(peers[peer_ref], *requests[case_id]))
        for case_id, [peer_ref] in assigned.items()
        if hard_constraint_broken(peers[peer_ref], *requests[case_id])
    }
    assert broken == {}
    # the tempting peers were in reach and were excluded, with a reason a coordinator can read
    behind_incident = [
        e for e in events if e.event_name == "peer_assigned" and requests[e.subject][0].incident_ref
    ]
    for env in behind_incident:
        excluded = env.data["explanation"]["excluded"]
        agency = requests[env.subject][1]
        assert {f"p-{agency}-witness", f"p-{agency}-boss", f"p-{agency}-report"} <= set(excluded["conflict"])
        assert f"p-{agency}-tired" in excluded["overloaded"] and f"p-{agency}-resting" in excluded["on_break"]
