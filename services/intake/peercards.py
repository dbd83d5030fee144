"""Intake asks matching who accepted a case (`cmd.matching.peer_card`), for the member's own view only.
The answer (the peer's chosen name and work channels) is shown to the member and kept nowhere."""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.errors import Error as NatsError

from shared.contracts.matching import PEER_CARD_SUBJECT, PeerCard, PeerCardReply, PeerCardRequest

log = logging.getLogger("peerline.intake")


class PeerCards:
    def __init__(self, timeout_s: float = 2.0) -> None:
        self.timeout_s = timeout_s
        self._nc: Client | None = None

    def connect(self, nc: Client) -> None:
        self._nc = nc

    async def of(self, agency: str, case_id: str) -> PeerCard | None:
        """The accepting peer's card, or None (nobody accepted, or matching did not answer in time)."""
        if self._nc is None:
            return None
        req = PeerCardRequest(agency=agency, case_id=case_id).model_dump_json().encode()
        try:
            msg = await self._nc.request(PEER_CARD_SUBJECT, req, timeout=self.timeout_s)
        except (NatsError, TimeoutError) as exc:
            log.warning("peer card unavailable: %s", type(exc).__name__)
            return None
        reply = PeerCardReply.model_validate_json(msg.data)
        return reply.card if reply.ok else None
