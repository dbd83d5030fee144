"""Escalation's HTTP API (thin): request model → command → domain → append → response model.

No route returns anything about the member except `reveal`, and that only to the acknowledging clinician
of an escalation whose category the policy marks disclosable — through intake's vault, which records it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from services.escalation import domain, queries
from services.escalation.commands import Commands
from shared.auth import Auth, Principal, check_agency
from shared.contracts.escalation import ALL_CATEGORIES, ConcernCategory, DisclosurePolicyProposed, Tier
from shared.contracts.intake import RevealReason
from shared.envelope import TOKEN, new_id
from shared.httpapi import service_api
from shared.limits import HttpLimits

AgencyId = Annotated[str, Path(pattern=TOKEN.pattern, description="agency id, e.g. `riverton-fire`")]
EscalationId = Annotated[str, Path(pattern=TOKEN.pattern)]


class TierBody(Tier):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_within_s: int = Field(ge=domain.MIN_ACK_S, le=domain.MAX_ACK_S)


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field(pattern=TOKEN.pattern, max_length=64)
    categories: tuple[ConcernCategory, ...] = Field(default=ALL_CATEGORIES, max_length=len(ALL_CATEGORIES))
    disclosable: tuple[ConcernCategory, ...] = Field(max_length=len(ALL_CATEGORIES))
    self_harm_requires: Literal["any_threat", "intent_and_plan"] = "any_threat"
    chain: tuple[TierBody, ...] = Field(min_length=1, max_length=domain.MAX_TIERS)


class PolicyView(BaseModel):
    policy_version: int
    jurisdiction: str
    categories: tuple[ConcernCategory, ...]
    disclosable: tuple[ConcernCategory, ...]
    self_harm_requires: str
    chain: tuple[Tier, ...]


class Proposal(BaseModel):
    proposal_id: str
    status: Literal["proposed", "unchanged"]


class WaitingProposal(BaseModel):
    proposal_id: str
    proposed_by: str
    jurisdiction: str
    categories: tuple[ConcernCategory, ...]
    disclosable: tuple[ConcernCategory, ...]
    self_harm_requires: str
    chain: tuple[Tier, ...]


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: str = Field(pattern=TOKEN.pattern, max_length=64)


def view(policy: domain.Policy) -> PolicyView:
    return PolicyView(
        policy_version=policy.version,
        jurisdiction=policy.jurisdiction,
        categories=policy.categories,
        disclosable=policy.disclosable,
        self_harm_requires=policy.self_harm_requires,
        chain=policy.chain,
    )


class Concern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(pattern=TOKEN.pattern)
    category: ConcernCategory
    intent_and_plan: bool = Field(default=False, description="self-harm: a stated intent with a plan")


class Raised(BaseModel):
    escalation_id: str
    disclosable: bool
    policy_version: int
    tier: int


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: domain.Outcome


class State(BaseModel):
    escalation_id: str
    status: str
    tier: int


class OpenEscalation(BaseModel):
    escalation_id: str
    case_id: str
    category: str
    status: str
    tier: int
    tier_role: str
    disclosable: bool
    policy_version: int
    triggered_at: datetime
    deadline_at: datetime | None


class RevealBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RevealReason = Field(description="why the identity is needed, coded; recorded with the reveal")


class Identity(BaseModel):
    escalation_id: str
    fields: dict[str, str]


async def handled(call: Coroutine[Any, Any, Any]) -> Any:
    try:
        return await call
    except domain.Rejected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


def build_api(
    commands: Callable[[], Commands], engine: Engine, auth: Auth, limits: HttpLimits | None = None
) -> FastAPI:
    api = service_api("Peerline escalation", "Necessary disclosure, audited.", auth, limits)

    @api.get("/healthz", tags=["ops"], dependencies=[Auth.open("a liveness probe: says nothing")])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.put(
        "/v1/agencies/{agency}/disclosure-policy",
        response_model=Proposal,
        status_code=status.HTTP_202_ACCEPTED,
        tags=["policy"],
    )
    async def propose_policy(
        agency: AgencyId, body: PolicyBody, who: Principal = auth.require("regional_admin", "coordinator")
    ) -> Proposal:
        """Propose a new version of the agency's disclosure policy; it takes effect once a second person
        approves it (`POST …/disclosure-policy/approval`). Unchanged policy: nothing is proposed."""
        check_agency(who, agency)
        proposal_id = new_id("pp")
        proposal = DisclosurePolicyProposed(proposal_id=proposal_id, proposed_by=who.sub, **body.model_dump())
        made = await handled(commands().propose_policy(agency, proposal))
        return Proposal(proposal_id=proposal_id, status="proposed" if made else "unchanged")

    @api.post("/v1/agencies/{agency}/disclosure-policy/approval", response_model=PolicyView, tags=["policy"])
    async def approve_policy(
        agency: AgencyId, body: Approval, who: Principal = auth.require("regional_admin", "coordinator")
    ) -> PolicyView:
        """A second person (not who proposed it) approves the waiting proposal: the next version."""
        check_agency(who, agency)
        return view(await handled(commands().approve_policy(agency, body.proposal_id, by=who.sub)))

    @api.get(
        "/v1/agencies/{agency}/disclosure-policy/proposal", response_model=WaitingProposal, tags=["policy"]
    )
    async def read_proposal(
        agency: AgencyId, who: Principal = auth.require("regional_admin", "coordinator")
    ) -> WaitingProposal:
        """The change waiting for a second person: what it would record and who proposed it (only that
        person may not approve it)."""
        check_agency(who, agency)
        pending = await commands().pending_policy(agency)
        if pending is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no policy change is waiting for approval")
        return WaitingProposal.model_validate(pending.model_dump())

    @api.get("/v1/agencies/{agency}/disclosure-policy", response_model=PolicyView, tags=["policy"])
    async def read_policy(
        agency: AgencyId, who: Principal = auth.require("regional_admin", "coordinator", "clinician", "peer")
    ) -> PolicyView:
        check_agency(who, agency)
        policy = await commands().policy(agency)
        if not policy.version:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no disclosure policy recorded for this agency")
        return view(policy)

    @api.post(
        "/v1/agencies/{agency}/escalations",
        status_code=status.HTTP_201_CREATED,
        response_model=Raised,
        tags=["escalations"],
    )
    async def raise_concern(
        agency: AgencyId, body: Concern, who: Principal = auth.require("peer", "clinician")
    ) -> Raised:
        """Raise a concern on a case: the clinician on duty is paged at once. The peer holding the case, or
        a clinician it was referred to, may raise one; whoever raises it may not acknowledge it."""
        check_agency(who, agency)
        why = domain.check_raiser(
            await commands().involvement(agency, body.case_id), by=who.sub, role=who.role
        )
        if why is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, why)
        escalation_id = new_id("x")
        cmd = domain.RaiseConcern(body.case_id, body.category, who.role, body.intent_and_plan, who.sub)
        await handled(commands().raise_concern(agency, escalation_id, cmd))
        esc, _ = await commands().load(agency, escalation_id)
        return Raised(
            escalation_id=escalation_id,
            disclosable=esc.disclosable,
            policy_version=esc.policy_version,
            tier=1,
        )

    @api.get("/v1/agencies/{agency}/escalations", response_model=list[OpenEscalation], tags=["escalations"])
    def open_escalations(
        agency: AgencyId,
        who: Principal = auth.require("coordinator", "clinician"),
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, object]]:
        """Escalations not yet resolved, oldest first. No identities, no content."""
        check_agency(who, agency)
        with engine.connect() as conn:
            return queries.open_escalations(conn, agency, limit)

    @api.get(
        "/v1/agencies/{agency}/escalations/{escalation_id}",
        response_model=OpenEscalation,
        tags=["escalations"],
    )
    def one_escalation(
        agency: AgencyId,
        escalation_id: EscalationId,
        who: Principal = auth.require("coordinator", "clinician"),
    ) -> dict[str, object]:
        """One escalation's state (resolved ones too). No identities, no content."""
        check_agency(who, agency)
        with engine.connect() as conn:
            found = queries.find(conn, escalation_id)
        if found is None or found.pop("agency") != agency:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such escalation in this agency")
        return found

    @api.post(
        "/v1/agencies/{agency}/escalations/{escalation_id}/acknowledge",
        response_model=State,
        tags=["escalations"],
    )
    async def acknowledge(
        agency: AgencyId,
        escalation_id: EscalationId,
        who: Principal = auth.require("clinician", "coordinator", "leader"),
    ) -> State:
        """The person paged takes the escalation (any role paged so far); deadlines stop."""
        check_agency(who, agency)
        esc = await handled(commands().acknowledge(agency, escalation_id, by=who.sub, role=who.role))
        return State(escalation_id=escalation_id, status=esc.status, tier=esc.tier)

    @api.post(
        "/v1/agencies/{agency}/escalations/{escalation_id}/resolve",
        response_model=State,
        tags=["escalations"],
    )
    async def resolve(
        agency: AgencyId,
        escalation_id: EscalationId,
        body: Resolution,
        who: Principal = auth.require("clinician", "coordinator", "leader"),
    ) -> State:
        check_agency(who, agency)
        esc = await handled(
            commands().resolve(agency, escalation_id, by=who.sub, role=who.role, outcome=body.outcome)
        )
        return State(escalation_id=escalation_id, status=esc.status, tier=esc.tier)

    @api.post(
        "/v1/agencies/{agency}/escalations/{escalation_id}/reveal",
        response_model=Identity,
        tags=["disclosure"],
    )
    async def reveal(
        agency: AgencyId,
        escalation_id: EscalationId,
        body: RevealBody,
        response: Response,
        who: Principal = auth.require("clinician"),
    ) -> Identity:
        """The acknowledging clinician asks for the member's identity, where the policy permits disclosure.
        A refusal says why and is recorded; a reveal is recorded by the vault (`identity_disclosed`)."""
        check_agency(who, agency)
        response.headers["Cache-Control"] = "no-store"
        result = await commands().reveal(
            agency, escalation_id, by=who.sub, role=who.role, purpose=body.reason
        )
        if result.unavailable:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, result.refused)
        if result.fields is None:
            code = (
                status.HTTP_404_NOT_FOUND
                if result.refused == "no such escalation"
                else status.HTTP_403_FORBIDDEN
            )
            raise HTTPException(code, result.refused, headers={"Cache-Control": "no-store"})
        return Identity(escalation_id=escalation_id, fields=result.fields)

    return api
