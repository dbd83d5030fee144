"""Who accepted a case, for its member: NATS request/reply on `cmd.matching.peer_card` (queue group).

Only intake may ask (bus permissions) and it asks only for a member who proved the case is theirs. The
answer names the peer only once they accepted, with their chosen display name, discipline, agency and
the work channels they publish; it travels only on the reply inbox, never in the log or a log line.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from sqlalchemy import Engine

from services.matching import queries as views
from services.matching.profiles import Profiles
from shared.buspolicy import PEER_CARD_QUEUE
from shared.contracts.matching import PEER_CARD_SUBJECT, PeerCard, PeerCardReply, PeerCardRequest
from shared.items import describe

log = logging.getLogger("peerline.matching.cards")


class Cards:
    def __init__(self, engine: Engine, profiles: Profiles) -> None:
        self.engine, self.profiles = engine, profiles

    def card(self, req: PeerCardRequest) -> PeerCardReply:
        with self.engine.connect() as conn:
            found = views.open_assignment(conn, req.case_id)
            peer = views.peer(conn, str(found["peer_ref"])) if found else None
        if found is None or found["agency"] != req.agency or found["status"] != "accepted" or peer is None:
            return PeerCardReply(ok=False, refused="no peer has accepted this case")
        profile = self.profiles.get(peer.agency, peer.peer_ref)
        card = PeerCard(
            display_name=profile.display_name if profile else None,
            discipline=peer.discipline,
            agency=peer.agency,
            phone=profile.phone if profile else None,
            text=profile.text if profile else None,
        )
        return PeerCardReply(ok=True, card=card)

    async def on_request(self, msg: Msg) -> None:
        try:
            req = PeerCardRequest.model_validate_json(msg.data)
        except (ValidationError, ValueError) as exc:
            reply = PeerCardReply(ok=False, refused=describe(exc))
        else:
            try:
                reply = await asyncio.to_thread(self.card, req)
            except Exception as exc:  # never leave intake waiting without a reason
                log.exception("peer card failed")
                reply = PeerCardReply(ok=False, refused=f"matching error: {type(exc).__name__}")
        await msg.respond(reply.model_dump_json().encode())

    async def serve(self, nc: Client) -> Subscription:
        return await nc.subscribe(PEER_CARD_SUBJECT, queue=PEER_CARD_QUEUE, cb=self.on_request)
