"""Command handlers: load the aggregate from the log → pure decision → append with the expected version.

Shared by the HTTP API, the risk-flag reactor and the deadline timers; every decision goes through
shared.decision (a conflict: reload, decide again; repeated conflicts: Busy).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from services.escalation import domain
from services.escalation.domain import approval
from shared import decision
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.escalation import DisclosurePolicyProposed, DisclosurePolicyRecorded
from shared.contracts.intake import REVEAL_SUBJECT, RevealReason, RevealReply, RevealRequest
from shared.decision import Aggregate, payloads
from shared.envelope import STREAM, Envelope
from shared.eventstore import ConcurrencyConflict, EventStore, History
from shared.timers import Timer

SOURCE = "peerline/escalation"
POLICY_ID = "disclosure"  # one policy aggregate per agency: ev.<agency>.policy.disclosure.*
# Pages a tier: the event that put it on duty, the escalation's state, the tier (services.escalation.pages).
Page = Callable[[Envelope, domain.Escalation, int], Awaitable[None]]


async def _no_pager(env: Envelope, esc: domain.Escalation, tier: int) -> None:
    raise RuntimeError("escalation has no pager wired")


@dataclass(frozen=True)
class Reveal:
    fields: dict[str, str] | None = None
    refused: str | None = None
    unavailable: bool = False


class Commands:
    def __init__(
        self,
        store: Callable[[], EventStore],
        nc: Callable[[], Client],
        clock: Clock,
        reveal_timeout_s: float,
        page: Page = _no_pager,
    ) -> None:
        self.store, self.nc, self.clock, self.reveal_timeout_s = store, nc, clock, reveal_timeout_s
        self.page = page
        self._policies: dict[str, tuple[int, domain.Policy]] = {}  # agency → (stream seq, policy)

    async def load(self, agency: str, escalation_id: str) -> tuple[domain.Escalation, History]:
        history = await self.store().load(agency, "escalation", escalation_id)
        return domain.fold([s.envelope.payload() for s in history.events]), history

    async def policy(self, agency: str) -> domain.Policy:
        """The agency's current policy. Each recorded version is a whole policy, so the last one is all
        there is to read (one round trip); a version already read is not parsed again."""
        subject = f"ev.{agency}.policy.{POLICY_ID}.{DisclosurePolicyRecorded.name}"
        try:
            msg = await self.nc().jetstream().get_last_msg(STREAM, subject, direct=True)
        except NotFoundError:
            return domain.Policy()
        assert msg.data is not None
        known = self._policies.get(agency)
        if known is not None and known[0] == msg.seq:  # the same stored version: read once
            return known[1]
        policy = domain.evolve_policy(domain.Policy(), Envelope.from_bytes(msg.data).payload())
        self._policies[agency] = (msg.seq or 0, policy)
        return policy

    async def involvement(self, agency: str, case_id: str) -> domain.Involvement:
        history = await self.store().load(agency, "case", case_id)
        inv = domain.Involvement()
        for stored in history.events:
            inv = domain.involve(inv, stored.envelope.payload())
        return inv

    async def _policy_change(
        self, agency: str, decide: Callable[[domain.Policy, DisclosurePolicyProposed | None], list[Event]]
    ) -> list[Event]:
        done = await decision.decide(
            self.store(),
            Aggregate(agency, "policy", POLICY_ID),
            lambda history: approval.fold(payloads(history)),
            lambda state: decide(*state),
            source=SOURCE,
            clock=self.clock,
        )
        return done.events

    async def propose_policy(self, agency: str, proposal: DisclosurePolicyProposed) -> bool:
        """Record a proposed change (False: identical to the current policy, nothing proposed)."""
        return bool(await self._policy_change(agency, lambda cur, _: approval.propose(cur, proposal)))

    async def pending_policy(self, agency: str) -> DisclosurePolicyProposed | None:
        """The proposal waiting for a second person's approval, if any."""
        history = await self.store().load(agency, "policy", POLICY_ID)
        return approval.fold([s.envelope.payload() for s in history.events])[1]

    async def approve_policy(self, agency: str, proposal_id: str, *, by: str) -> domain.Policy:
        """A second person approves the waiting proposal: it becomes the next policy version."""
        await self._policy_change(
            agency, lambda cur, pending: approval.approve(cur, pending, proposal_id, by=by)
        )
        return await self.policy(agency)

    async def seed_policy(self, agency: str, default: DisclosurePolicyRecorded) -> bool:
        """Record `default` as the agency's first policy unless one exists. True if it was recorded."""
        current = await self.policy(agency)
        if current.version:
            return False
        events = domain.record_policy(current, default)
        aggregate = Aggregate(agency, "policy", POLICY_ID)
        return await decision.create(self.store(), aggregate, events, **self._as("seed")) is not None

    async def raise_concern(
        self,
        agency: str,
        escalation_id: str,
        cmd: domain.RaiseConcern,
        cause: Envelope | None = None,
        fallback: domain.Policy | None = None,
        *,
        after: int = 0,
    ) -> bool:
        """Trigger an escalation (idempotent per escalation id) and page its first tier straight after the
        append, in one hop. True if the escalation was appended by this call or stands as an earlier call
        with the same id appended it (the log keeps it once). Tier 1 is paged if the escalation's event lies
        after `after` (the stream position of the report that raised it): so a report delivered again
        pages again, with the same event id — the same page to its receivers, and sent even if an earlier
        delivery appended and stopped before paging — while the same report appended to the log a second
        time, after its escalation, pages nothing. A new id is the common case, so decide on an empty
        escalation and let the log's concurrency check (expected version 0) say whether it exists."""
        policy = await self.policy(agency)
        if not policy.version and fallback is not None:
            policy = fallback
        events = domain.raise_concern(domain.Escalation(), policy, cmd)
        aggregate = Aggregate(agency, "escalation", escalation_id)
        ids = decision.event_ids(aggregate, len(events), "triggered")
        envs = decision.wrap(aggregate, events, source=SOURCE, ids=ids, clock=self.clock, cause=cause)
        try:
            version = await self.store().append(envs, expected=0)
        except ConcurrencyConflict:
            return False  # it exists and has moved on since (answered, or a later tier paged)
        if version > after:
            await self.page(envs[0], domain.fold(events), 1)
        return True

    def _as(self, command_id: str) -> dict[str, Any]:
        return {"source": SOURCE, "clock": self.clock, "command_id": command_id}

    async def _decide_and_append(
        self,
        agency: str,
        escalation_id: str,
        decide: Callable[[domain.Escalation], list[Event]],
        command_id: str | None = None,
    ) -> domain.Escalation:
        done = await decision.decide(
            self.store(),
            Aggregate(agency, "escalation", escalation_id),
            lambda history: domain.fold(payloads(history)),
            decide,
            source=SOURCE,
            clock=self.clock,
            command_id=command_id,
        )
        esc = done.state
        for e in done.events:
            esc = domain.evolve(esc, e)
        return esc

    async def acknowledge(self, agency: str, escalation_id: str, *, by: str, role: str) -> domain.Escalation:
        return await self._decide_and_append(
            agency, escalation_id, lambda esc: domain.acknowledge(esc, by=by, role=role)
        )

    async def resolve(
        self, agency: str, escalation_id: str, *, by: str, role: str, outcome: domain.Outcome
    ) -> domain.Escalation:
        return await self._decide_and_append(
            agency, escalation_id, lambda esc: domain.resolve(esc, by=by, role=role, outcome=outcome)
        )

    async def fire(self, timer: Timer) -> bool:
        """A tier deadline passed. True if the next tier was paged; False if there is nothing left to do."""
        return await self.advance(timer.agency, timer.aggregate_id, int(timer.data["tier"]))

    async def advance(self, agency: str, escalation_id: str, tier: int) -> bool:
        """Page the tier after `tier` if that tier is still on duty and unanswered: its deadline passed, or
        its page reached nobody. Both share one event id, so whichever comes second appends nothing."""
        after = await self._decide_and_append(
            agency,
            escalation_id,
            lambda esc: domain.deadline_passed(esc, tier),
            command_id=f"tier/{tier + 1}",
        )
        return after.tier > tier

    async def reveal(
        self, agency: str, escalation_id: str, *, by: str, role: str, purpose: RevealReason | None = None
    ) -> Reveal:
        """Ask intake's vault for the member's identity, after checking the escalation and its policy here.
        Every refusal is recorded on the escalation; every reveal is recorded by the vault."""
        esc, _ = await self.load(agency, escalation_id)
        reason = domain.check_reveal(esc, by=by, role=role)
        if reason is None:
            request = RevealRequest(
                agency=agency,
                escalation_id=escalation_id,
                case_id=esc.case_id,
                requested_by=by,
                disclosed_to=by,
                reason=purpose,
            )
            try:
                msg = await self.nc().request(
                    REVEAL_SUBJECT, request.model_dump_json().encode(), timeout=self.reveal_timeout_s
                )
                reply = RevealReply.model_validate_json(msg.data)
            except (TimeoutError, NatsTimeout, NoRespondersError):
                return Reveal(refused="the identity vault did not answer; try again", unavailable=True)
            except ValidationError:
                return Reveal(refused="the identity vault gave an unreadable answer", unavailable=True)
            if reply.ok:
                return Reveal(fields=dict(reply.fields))
            reason = f"the vault refused: {(reply.refused or 'no reason given')[:200]}"
        if esc.status != "new":
            await self._decide_and_append(
                agency, escalation_id, lambda e: domain.refuse_reveal(e, by=by, reason=reason)
            )
        return Reveal(refused=reason)
