"""The CAD inbox reaction: raw documents from `cad.<agency>.incident` (stream PEERLINE_CAD_INBOX), and
support requests taken at an agency site (`site.<agency>.request`, sourced from the site's stream).

A reaction (shared.reactor) with its own decoder: a document that is no valid EIDO or webhook
document, or arrives on a subject naming no valid agency, is dead-lettered at once with the reason;
one whose handling fails is retried, then dead-lettered. Dead letters expire after a week (they name
members of the public). A document is acked only after its events are in the log, or once it is in
PEERLINE_DLQ: nothing accepted is lost. One document at a time: updates of one incident come in order.
"""

from __future__ import annotations

import logging
from typing import Annotated

from faststream import Depends
from faststream.message import StreamMessage
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from services.intake.commands.dispatch import Dispatch
from services.intake.commands.site_requests import SiteRequests
from services.intake.domain import reader
from services.intake.domain.cad import Incident
from shared.consumers.intake import CAD_DURABLE, CAD_INBOX, CAD_SUBJECTS
from shared.envelope import TOKEN
from shared.items import describe
from shared.reactor import Policy, Undecodable, provided, reaction
from shared.siterequest import SiteRequest
from shared.topology import Consumer

log = logging.getLogger("peerline.intake.cad")
DLQ_TTL_S = 7 * 24 * 3600  # a rejected CAD document names members of the public: kept a week to fix
INBOX = Consumer(
    CAD_DURABLE, (CAD_SUBJECTS,), description="intake's CAD adapter: raw EIDO / webhook documents"
)


class CadDocument(BaseModel):
    """One inbox message as the reaction receives it: the agency of its subject and what was read — a CAD
    document (an incident), or a support request taken at the agency's site."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    agency: str
    incident: Annotated[
        Incident | None,
        WithJsonSchema({"type": "object", "description": "a NENA EIDO or webhook document"}),
    ] = None
    request: SiteRequest | None = None


async def decode_document(msg: StreamMessage[Msg]) -> CadDocument:
    raw = msg.raw_message
    parts = raw.subject.split(".")
    agency = parts[1] if len(parts) == 3 else ""
    try:
        if not TOKEN.match(agency):
            raise ValueError("the subject's agency token is not a valid agency id")
        if parts[0] == "site" and parts[2] == "request":
            return CadDocument(agency=agency, request=SiteRequest.model_validate_json(raw.data))
        incident = reader.parse(raw.data)
    except Exception as exc:  # whatever a document does to the parser (too deep, too odd): its fault
        log.warning("inbox message on %s dead-lettered: %s", raw.subject.split(".")[0], describe(exc))
        raise Undecodable(describe(exc)) from exc
    return CadDocument(agency=agency, incident=incident)


async def take(
    document: CadDocument,
    dispatch: Dispatch = Depends(provided("dispatch")),
    requests: SiteRequests = Depends(provided("requests")),
) -> None:
    """A CAD document becomes (or adds to) a critical incident report; a site's request opens its case."""
    if document.request is not None:
        log.info("%s", await requests.take(document.agency, document.request))
        return
    assert document.incident is not None
    outcome = await dispatch.take(document.agency, document.incident)
    log.info("CAD update for %s: %s", outcome.incident_ref, outcome.summary)


def routes() -> NatsRouter:
    """The inbox reaction, on a router of its own (a faststream router belongs to one broker)."""
    router = NatsRouter()
    reaction(router, INBOX, batch=1, stream=CAD_INBOX, decoder=decode_document)(take)
    return router


def policy(max_deliveries: int) -> dict[str, Policy]:
    return {CAD_DURABLE: Policy(max_deliveries, backoff_s=0.2, dlq_ttl_s=DLQ_TTL_S)}
