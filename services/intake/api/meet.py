"""The member meets the peer. The member's case view (case token, or the member's own login) shows the
status — requested → offered → accepted (who contacts whom) → closed —, the agency's crisis lines at
every step, and once a peer accepted, that peer's chosen name, discipline, agency and work channels
(asked of matching, kept nowhere). Or the member leaves a callback for this case only: sealed in the
vault, opened for the accepting peer alone (`callback_released`, without the value), shredded when the
case closes, is cancelled or goes to another peer.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain, queries
from services.intake.api.ports import Ports
from services.intake.api.requests import SOURCE, CaseView, token_hash
from services.intake.domain.policy import CrisisLine
from services.intake.vault.keys import KeyUnavailable
from shared import decision
from shared.auth import Principal, check_agency
from shared.contracts.base import Event
from shared.contracts.matching import PeerCard
from shared.decision import Aggregate, event_ids, payloads, wrap

PHONE = r"^\+?[0-9 ().-]{5,32}$"
_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
CaseToken = Annotated[str | None, Header(description="the case token given when the request was made")]


class MemberView(CaseView):
    who_contacts: Literal["member_contacts_peer", "peer_contacts_member"] | None = Field(
        description="once accepted: reach the peer on their channels, or the peer calls your callback"
    )
    peer: PeerCard | None = Field(description="the peer who accepted: chosen name, discipline, work channels")
    callback: Literal["left", "released", "shredded"] | None
    crisis_lines: tuple[CrisisLine, ...]
    crisis_lines_prominent: bool = Field(description="no peer could be found: call a crisis line now")


class Callback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["phone", "text"]
    number: str = Field(pattern=PHONE, description="where the peer may call or text you")


class Released(BaseModel):
    case_id: str
    channel: Literal["phone", "text"]
    number: str


def add_routes(api: FastAPI, ports: Ports) -> None:
    verify = ports.auth.verifier

    def members_case(
        case_id: str, case_token: str | None, bearer: HTTPAuthorizationCredentials | None
    ) -> tuple[dict[str, object], domain.Meeting]:
        """(case row, meeting) if the caller holds the case token or is the member logged in."""
        with ports.engine.connect() as conn:
            row = queries.find(conn, case_id)
            meeting = queries.meeting(conn, case_id)
        if row is not None:
            meeting = meeting or domain.Meeting(str(row["status"]))  # a case from before meetings were kept
            if case_token is not None:
                if hmac.compare_digest(str(row["token_hash"]), token_hash(case_token)):
                    return row, meeting
            elif bearer is not None and _member(bearer, str(row["agency"])) == meeting.member_ref:
                return row, meeting
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case for you (a new one may take a moment)")

    def _member(bearer: HTTPAuthorizationCredentials, agency: str) -> str | None:
        """The signed-in member's member_ref in `agency` (through the vault's keyed pseudonym)."""
        try:
            who: Principal = verify(bearer.credentials)
        except Exception:  # an invalid token proves nothing: the same 404 as no token
            return None
        if who.role != "member" or who.agency != agency:
            return None
        return ports.vault.member_ref_of(agency, who.sub)

    by_member = [ports.auth.open("the member, by the case token or their own sign-in (checked here)")]

    @api.get("/v1/requests/{case_id}", response_model=MemberView, tags=["requests"], dependencies=by_member)
    async def request_status(case_id: str, bearer: Bearer, x_case_token: CaseToken = None) -> MemberView:
        """The member's view, by case token (header `X-Case-Token`) or the member's own login."""
        row, meeting = members_case(case_id, x_case_token, bearer)
        agency = str(row["agency"])
        card = await ports.cards.of(agency, case_id) if meeting.status == "accepted" else None
        return MemberView.model_validate(
            {
                **row,
                "who_contacts": domain.who_contacts(meeting),
                "peer": card,
                "callback": meeting.callback,
                "crisis_lines": ports.policies.of(agency).crisis_lines,
                "crisis_lines_prominent": meeting.status == "unmatched",
            }
        )

    @api.post(
        "/v1/requests/{case_id}/callback",
        status_code=status.HTTP_201_CREATED,
        tags=["requests"],
        dependencies=by_member,
    )
    async def leave_callback(
        case_id: str, body: Callback, bearer: Bearer, x_case_token: CaseToken = None
    ) -> dict[str, str]:
        """Leave a number for the peer who accepts to call or text, for this case only."""
        row, _ = members_case(case_id, x_case_token, bearer)
        agency = str(row["agency"])

        def leave(case: domain.Case) -> list[Event]:
            return domain.leave_callback(case, body.channel)

        async def sealed(case: domain.Case) -> domain.Case:
            """Only a callback the rules accept is sealed in the vault, before it is recorded."""
            leave(case)
            await asyncio.to_thread(ports.vault.callbacks.leave, case_id, agency, body.channel, body.number)
            return case

        try:
            await decision.decide(
                ports.store(),
                Aggregate(agency, "case", case_id),
                lambda history: domain.fold(payloads(history)),
                leave,
                source=SOURCE,
                inputs=sealed,
            )
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return {"case_id": case_id, "callback": "left"}

    @api.get("/v1/agencies/{agency}/cases/{case_id}/callback", response_model=Released, tags=["peer"])
    async def release_callback(
        agency: str, case_id: str, who: Principal = ports.auth.require("peer")
    ) -> Released:
        """The member's callback, for the peer who accepted the case (token `sub` = their peer_ref,
        `{agency}` = their own) and no one else. Recorded (`callback_released`) before it is shown."""
        check_agency(who, agency)
        with ports.engine.connect() as conn:
            row = queries.find(conn, case_id)
            meeting = queries.meeting(conn, case_id)
        if row is None or meeting is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case")
        try:
            events = domain.may_release_callback(meeting, who.sub)
        except domain.Rejected as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
        try:
            channel, number = await asyncio.to_thread(ports.vault.callbacks.open, case_id)
        except KeyUnavailable as exc:
            raise HTTPException(status.HTTP_410_GONE, "the callback was shredded") from exc
        case_agency = str(row["agency"])
        released = Aggregate(case_agency, "case", case_id)
        ids = event_ids(released, len(events), f"release/{meeting.assignment_id}")  # recorded once
        envs = wrap(released, events, source=SOURCE, ids=ids)
        await ports.store().append(envs, expected=None)
        return Released(case_id=case_id, channel=channel, number=number)
