"""Wellness's reactions: what each timer kind does when it fires, and the sweep that re-evaluates peer load.

Wellness is a process manager (docs/recipes.md): its view records what is owed as a timer in the same
transaction that applies the event (kind, aggregate, cause), and each timer kind below is declared
together with the one handler that fires it (`@fires`). A handler acts with deterministic ids, so a
timer fired again after a crash is one decision in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from services.wellness import domain, queries
from services.wellness.commands import Cause, Writer
from services.wellness.domain.policy import Policies
from shared.clock import Clock
from shared.contracts.intake import IncidentFlags, Involved
from shared.decision import fired
from shared.envelope import Envelope
from shared.eventstore import History
from shared.timers import Timer

log = logging.getLogger("peerline.wellness")

# The timer kinds the view schedules; each is fired by the Worker method marked `@fires(kind)`.
OFFER = "offer"  # debrief offers (and exposure checks) for the people an incident names
LODD_ALERT = "lodd_alert"  # the line-of-duty-death alerts an incident owes, one per agency
PLAN = "plan"  # the follow-ups a contact asks for
FOLLOWUP_DUE = "followup_due"
FOLLOWUP_OVERDUE = "followup_overdue"
Handler = Callable[["Worker", Timer], Awaitable[bool]]
HANDLERS: dict[str, Handler] = {}


def fires(*kinds: str) -> Callable[[Handler], Handler]:
    """Declare a Worker method as the handler of timer `kinds`: True while its work is not settled."""

    def register(handler: Handler) -> Handler:
        for kind in kinds:
            if kind in HANDLERS:
                raise ValueError(f"timer kind {kind} has two handlers")
            HANDLERS[kind] = handler
        return handler

    return register


def fold_peer(history: History) -> domain.PeerState:
    state = domain.PeerState()
    for s in history.events:
        state = domain.evolve_peer(state, s.envelope.payload(), s.envelope.time)
    return state


def fold_followup(history: History) -> domain.Followup:
    state = domain.Followup()
    for s in history.events:
        state = domain.evolve_followup(state, s.envelope.payload())
    return state


def fold_debrief(history: History) -> domain.Debrief:
    state = domain.Debrief()
    for s in history.events:
        state = domain.evolve_debrief(state, s.envelope.payload())
    return state


def fold_exposure(history: History) -> domain.Exposure:
    state = domain.Exposure()
    for s in history.events:
        state = domain.evolve_exposure(state, s.envelope.payload(), s.envelope.time)
    return state


class Worker:
    def __init__(self, engine: Engine, writer: Writer, policies: Policies, clock: Clock) -> None:
        self.engine, self.writer, self.policies, self.clock = engine, writer, policies, clock

    async def fire(self, timer: Timer) -> bool:
        """The scheduler's one entry point: the handler of the timer's kind."""
        handler = HANDLERS.get(timer.kind)
        if handler is None:
            log.warning("unknown timer kind %s dropped", timer.kind)
            return False
        return await handler(self, timer)

    # --- debrief offers and exposure -----------------------------------------------------------

    @fires(OFFER)
    async def offer(self, timer: Timer) -> bool:
        now = self.clock.now()
        read = asyncio.to_thread(self._read, self._waiting, timer.agency, timer.aggregate_id, now)
        cause: Cause | Envelope | None
        if "cause" in timer.data:  # the incident event that named people still waiting
            cause = Cause(timer.data["cause"], timer.data["correlation"])
            waiting, counts = await read
        else:  # a timer scheduled before timers carried their cause: the incident's last event
            (waiting, counts), cause = await asyncio.gather(read, self._last_event(timer))
        if not waiting:
            return False
        # exposure first: once every offer is made the timer is settled and not fired again
        incident = f"incident/{timer.agency}/{timer.aggregate_id}"  # one exposure decision per incident
        exposures = (self._exposure(row, counts[self._key(row)], now, cause, incident) for row in waiting)
        await asyncio.gather(*exposures)
        await asyncio.gather(*(self._offer_one(row, cause) for row in waiting))
        return True

    async def _last_event(self, timer: Timer) -> Envelope | None:
        incident = await self.writer.store().load(timer.agency, "incident", timer.aggregate_id)
        return incident.events[-1].envelope if incident.events else None

    def _waiting(
        self, conn: Any, agency: str, incident_id: str, now: datetime
    ) -> tuple[list[dict[str, Any]], dict[tuple[timedelta, str], int]]:
        """Who on the incident waits for an offer, and each one's exposure count within their agency's
        window (one read, one thread hop, one query per distinct window)."""
        waiting = queries.waiting_offers(conn, agency, incident_id)
        by_window: dict[timedelta, set[str]] = {}
        for row in waiting:
            window, ref = self._key(row)
            by_window.setdefault(window, set()).add(ref)
        counts: dict[tuple[timedelta, str], int] = {}
        for window, refs in by_window.items():
            for ref, n in queries.exposure_counts(conn, refs, now, window).items():
                counts[window, ref] = n
        return waiting, counts

    def _key(self, row: dict[str, Any]) -> tuple[timedelta, str]:
        return self.policies.of(row["agency"]).exposure_window, row["member_ref"]

    async def _offer_one(self, row: dict[str, Any], cause: Any) -> None:
        """A new debrief aggregate per (incident, person): if it exists, the person was offered already."""
        person = Involved(
            member_ref=row["member_ref"], agency=row["agency"], role=row["role"], deceased=row["deceased"]
        )
        events = domain.offer_debrief(
            domain.Debrief(),
            incident_agency=row["incident_agency"],
            incident_id=row["incident_id"],
            reported_at=_aware(row["reported_at"]),
            flags=IncidentFlags.model_validate_json(row["flags"]),
            person=person,
            policy=self.policies.of(row["agency"]),
            incident_type=row["incident_type"],
            incident_date=_aware(row["occurred_at"]).date(),
        )
        if events:
            await self.writer.create(row["agency"], row["offer_id"], events, cause)

    @fires(LODD_ALERT)
    async def alert(self, timer: Timer) -> bool:
        """The line-of-duty-death alerts the incident still owes, one per agency; the view settles the
        timer when it has seen them (like the offers)."""
        waiting = await asyncio.to_thread(
            self._read, queries.waiting_alerts, timer.agency, timer.aggregate_id
        )
        if not waiting:
            return False
        deceased = await asyncio.to_thread(self._read, queries.deceased, timer.agency, timer.aggregate_id)
        cause = Cause(timer.data["cause"], timer.data["correlation"])
        day = timer.data.get("incident_date")
        for alert_id, agency in waiting:
            events = domain.alert_line_of_duty_death(
                incident_agency=timer.agency,
                incident_id=timer.aggregate_id,
                incident_type=timer.data.get("incident_type", ""),
                incident_date=date.fromisoformat(day) if day else None,
                deceased=deceased.get(agency, 0),
            )
            await self.writer.create(agency, alert_id, events, cause)
        return True

    async def _exposure(
        self, row: dict[str, Any], count: int, now: datetime, cause: Any, command_id: str
    ) -> None:
        policy = self.policies.of(row["agency"])
        if not domain.decide_exposure(domain.Exposure(), row["member_ref"], count, now, policy):
            return  # under the threshold whatever was offered before

        def decide(history: History) -> list[domain.Event]:
            return domain.decide_exposure(fold_exposure(history), row["member_ref"], count, now, policy)

        xid = domain.exposure_id(row["member_ref"])
        await self.writer.decide(row["agency"], "exposure", xid, decide, cause, command_id)

    # --- follow-ups ----------------------------------------------------------------------------

    @fires(PLAN)
    async def plan(self, timer: Timer) -> bool:
        policy = self.policies.of(timer.agency)
        contact_at = datetime.fromisoformat(timer.data["contact_at"])
        plan = domain.plan_followups(timer.aggregate_id, timer.data["peer_ref"], contact_at, policy)
        for fid, scheduled in reversed(plan):  # the first one last: it settles the plan timer

            def decide(history: History, scheduled: domain.Event = scheduled) -> list[domain.Event]:
                return [scheduled] if not history.events else []

            await self.writer.decide(timer.agency, "followup", fid, decide, command_id=fired(timer))
        return bool(plan)

    @fires(FOLLOWUP_DUE, FOLLOWUP_OVERDUE)
    async def followup(self, timer: Timer) -> bool:
        now = self.clock.now()
        grace = self.policies.of(timer.agency).followup_grace
        last: list[domain.Followup] = []

        def decide(history: History) -> list[domain.Event]:
            state = fold_followup(history)
            last[:] = [state]
            if timer.kind == FOLLOWUP_DUE:
                return domain.decide_due(state, now)
            return domain.decide_overdue(state, now, grace)

        if await self.writer.decide(
            timer.agency, "followup", timer.aggregate_id, decide, command_id=fired(timer)
        ):
            return True
        # nothing to do: settled already (the view cancels the timer), unless it is not time yet
        return bool(last) and last[0].status == "scheduled" and timer.kind == FOLLOWUP_DUE

    # --- peer load -----------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Re-evaluate every peer's load and break; returns how many decisions were appended."""
        now = self.clock.now()
        rows = await asyncio.to_thread(self._read, queries.peer_loads, now, self.policies, None)
        changed = 0
        for row, load in rows:
            policy = self.policies.of(row["agency"])
            seen = queries.peer_state(row)
            if not (domain.decide_load(seen, load, policy, now) or domain.break_expired(seen, now)):
                continue

            def decide(
                history: History, load: domain.Load = load, policy: Any = policy
            ) -> list[domain.Event]:
                state = fold_peer(history)
                return [*domain.decide_load(state, load, policy, now), *domain.break_expired(state, now)]

            try:
                if await self.writer.decide(row["agency"], "peer", row["peer_ref"], decide):
                    changed += 1
            except Exception:
                log.exception("peer load decision failed; the next sweep tries again")
        return changed

    def _read(self, fn: Any, *args: Any) -> Any:
        with self.engine.connect() as conn:
            return fn(conn, *args)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
