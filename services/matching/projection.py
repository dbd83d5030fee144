"""Matching's read model: the peer directory and each peer's active cases."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Connection, Integer, MetaData, String, Table, select

from services.matching.domain import Peer
from shared.contracts.base import Event
from shared.contracts.intake import RequestCancelled
from shared.contracts.matching import (
    ConfidentialityAcknowledged,
    PeerAssigned,
    PeerAvailabilityChanged,
    PeerEnrolled,
)
from shared.envelope import Envelope

metadata = MetaData()
peers = Table(
    "peers",
    metadata,
    Column("peer_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("discipline", String(32), nullable=False),
    Column("unit", String(64)),
    Column("languages", String(128), nullable=False),
    Column("acknowledged", Boolean, nullable=False, default=False),
    Column("available", Boolean, nullable=False, default=False),
    Column("active_cases", Integer, nullable=False, default=0),
)
assignments = Table(
    "assignments",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("peer_ref", String(64), nullable=False),
)


class DirectoryProjection:
    name = "matching-directory"
    metadata = metadata

    def apply(self, conn: Connection, env: Envelope, event: Event, seq: int) -> None:
        match event:
            case PeerEnrolled():
                conn.execute(
                    peers.insert().values(
                        peer_ref=env.subject,
                        agency=env.agency,
                        discipline=event.discipline,
                        unit=event.unit,
                        languages=",".join(event.languages),
                        acknowledged=False,
                        available=False,
                        active_cases=0,
                    )
                )
            case ConfidentialityAcknowledged():
                conn.execute(peers.update().where(peers.c.peer_ref == env.subject).values(acknowledged=True))
            case PeerAvailabilityChanged():
                conn.execute(
                    peers.update().where(peers.c.peer_ref == env.subject).values(available=event.available)
                )
            case PeerAssigned():
                self._release(conn, env.subject)
                conn.execute(assignments.insert().values(case_id=env.subject, peer_ref=event.peer_ref))
                conn.execute(
                    peers.update()
                    .where(peers.c.peer_ref == event.peer_ref)
                    .values(active_cases=peers.c.active_cases + 1)
                )
            case RequestCancelled():
                self._release(conn, env.subject)

    def _release(self, conn: Connection, case_id: str) -> None:
        peer_ref = conn.execute(
            select(assignments.c.peer_ref).where(assignments.c.case_id == case_id)
        ).scalar()
        if peer_ref is None:
            return
        conn.execute(assignments.delete().where(assignments.c.case_id == case_id))
        conn.execute(
            peers.update().where(peers.c.peer_ref == peer_ref).values(active_cases=peers.c.active_cases - 1)
        )


def candidates(conn: Connection) -> list[Peer]:
    rows = conn.execute(select(peers).where(peers.c.acknowledged, peers.c.available)).mappings()
    return [
        Peer(
            peer_ref=r["peer_ref"],
            agency=r["agency"],
            discipline=r["discipline"],
            languages=tuple(r["languages"].split(",")),
            acknowledged=r["acknowledged"],
            available=r["available"],
            active_cases=r["active_cases"],
        )
        for r in rows
    ]
