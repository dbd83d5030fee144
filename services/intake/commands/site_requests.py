"""Support requests taken at an agency site while the region may be out of reach (shared.siterequest).

They come through the CAD inbox, which sources each site's stream. The case id derives from the
request's id, and the case is opened only if it does not exist yet: a request delivered again, or
posted twice at the site, opens one case.
"""

from __future__ import annotations

from services.intake import domain
from shared.codes import CodeLists
from shared.contracts.intake import Preferences
from shared.envelope import Envelope, new_id
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.siterequest import SiteRequest, case_id

SOURCE = "peerline/intake-site"


class SiteRequests:
    def __init__(self, store: EventStore, codes: CodeLists) -> None:
        self.store, self.codes = store, codes

    async def take(self, agency: str, request: SiteRequest) -> str:
        """Open the request's case (once); returns what happened, for the log (no personal data)."""
        codes, asked = self.codes, request.preferences
        cmd = domain.RequestSupport(
            activation=request.activation,
            discipline=codes.discipline(agency, request.discipline),
            preferences=Preferences(
                agency_scope=asked.agency_scope,
                peer_ref=asked.peer_ref,
                language=asked.language,
                peer_discipline=codes.discipline(agency, asked.peer_discipline),
            ),
            unit=codes.unit(agency, request.unit),
            contact_preference=request.contact_preference,
            incident_ref=request.incident_ref,
        )
        events = domain.request_support(
            domain.Case(), cmd, member_ref=new_id("m"), token_hash=request.token_hash
        )
        case = case_id(agency, request.request_id)
        envs = [Envelope.wrap(e, agency=agency, subject=case, source=SOURCE) for e in events]
        try:
            await self.store.append(envs, expected=0)
        except ConcurrencyConflict:
            return f"site request: case {case} was already opened"
        return f"site request: case {case} opened"
