"""Carrying out directory commands on one peer aggregate, and the re-confirmation reminder."""

from __future__ import annotations

import json
from collections.abc import Callable

from nats.aio.client import Client

from services.matching.domain import peers as rules
from services.matching.domain.peers import Peer
from shared import decision
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.matching import PeerReconfirmationRequested
from shared.decision import Aggregate
from shared.eventstore import EventStore, History

SOURCE = "peerline/matching"
Command = Callable[[Peer], list[Event]]


class Directory:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._store: EventStore | None = None
        self._nc: Client | None = None

    def connect(self, nc: Client) -> None:
        self._nc = nc
        self._store = EventStore(nc.jetstream())

    @property
    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("matching is not connected yet")
        return self._store

    async def execute(
        self, agency: str, peer_ref: str, command: Command, command_id: str | None = None
    ) -> tuple[Peer, list[Event]]:
        """Decide on the current peer and append; returns the peer after the events (raises Rejected)."""

        def fold(history: History) -> Peer:
            peer = Peer(peer_ref, agency)
            for stored in history.events:
                peer = rules.evolve(peer, stored.envelope.payload(), stored.envelope.time)
            return peer

        done = await decision.decide(
            self.store,
            Aggregate(agency, "peer", peer_ref),
            fold,
            command,
            source=SOURCE,
            clock=self.clock,
            command_id=command_id,
        )
        peer = done.state
        for env, e in zip(done.envelopes, done.events, strict=True):
            peer = rules.evolve(peer, e, env.time)
        return peer, done.events

    async def remind(self, agency: str, peer_ref: str, due_by: str, confirmed_at: str | None) -> bool:
        """Ask the peer to re-confirm (once per deadline); also a live notice on `notify.<agency>.peer`."""

        def command(peer: Peer) -> list[Event]:
            current = peer.confirmed_at.isoformat() if peer.confirmed_at else None
            if peer.stage != "active" or current != confirmed_at or peer.reminded_due_by == due_by:
                return []  # deselected, re-confirmed since, or already reminded
            return [PeerReconfirmationRequested(due_by=due_by)]

        _, events = await self.execute(agency, peer_ref, command, command_id=f"remind/{due_by}")
        if events and self._nc is not None:
            body = {"peer_ref": peer_ref, "due_by": due_by, "what": "reconfirm_availability"}
            await self._nc.publish(f"notify.{agency}.peer", json.dumps(body).encode())
        return bool(events)
