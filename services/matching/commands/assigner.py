"""Carrying out case decisions: load the case, read the directory, decide, append with the case's version.

Per-case optimistic concurrency keeps one active assignment per case with any number of replicas: a
decision is appended only at the version it was made on; on a conflict the case is reloaded and decided
again (usually: nothing left to do), through shared.decision. Event ids are derived from the command
(the `support_requested` answered, the offer expired), so a retried or repeated decision lands once.

Fairness under a burst: the directory view lags the assigner's own appends, so the assigner overlays
its own recent offers (`Ledger`) until the view has caught up with them.

New requests take a fast path (`prepare`, `complete`): a fetched batch is decided on one read of the
directory (services.matching.commands.batch) and appended in one atomic write (EventStore.append_many).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from nats.aio.client import Client
from opentelemetry import propagate, trace
from sqlalchemy import Engine

from services.matching import domain
from services.matching import queries as views
from services.matching.commands.batch import DirectoryReader, decide_all
from services.matching.domain.ledger import Ledger
from services.matching.domain.peers import Peer, Policy
from shared import decision
from shared.batches import each
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.matching import CoordinatorAlerted, HandOn
from shared.decision import Aggregate, event_ids
from shared.envelope import Envelope
from shared.eventstore import Append, ConcurrencyConflict, EventStore, History

SOURCE = "peerline/matching"
_tracer = trace.get_tracer("peerline.matching")


class Delivered(NamedTuple):
    """A `support_requested` as delivered: the envelope, its stream sequence, its trace headers."""

    env: Envelope
    seq: int
    headers: dict[str, str]


class Prepared(NamedTuple):
    """A batch decided, not yet appended: the requests, each one's events, the time decided at."""

    batch: list[Delivered]
    decided: list[list[Event]]
    now: datetime


@dataclass(frozen=True)
class Deciding:
    """What a case decision is made on: the case, and once it is requested the candidates and context."""

    case: domain.Case
    peers: list[Peer] = field(default_factory=list)
    ctx: domain.Context | None = None


def fold_case(case_id: str, history: History) -> domain.Case:
    case = domain.Case(case_id=case_id)
    for stored in history.events:
        case = domain.evolve(case, stored.envelope.payload(), stored.envelope.agency, case_id)
    return case


def answering(requested: Envelope) -> str:
    """The command id of the decision a `support_requested` asks for: redelivered, it lands once."""
    return f"requested/{requested.id}"


class Assigner:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        policy: Callable[[str], Policy],
        directory_name: str = "matching-directory",
    ) -> None:
        self.engine, self.clock, self.policy = engine, clock, policy
        self.directory_name = directory_name
        self.ledger = Ledger()
        self.reader = DirectoryReader(engine, directory_name, policy)
        self._store: EventStore | None = None
        self._nc: Client | None = None

    def connect(self, nc: Client) -> None:
        self._nc = nc
        self.js = nc.jetstream()
        self._store = EventStore(self.js)

    @property
    def store(self) -> EventStore:
        assert self._store is not None, "connect() first"
        return self._store

    def _inputs(self, case: domain.Case, now: datetime) -> tuple[list[Peer], int, frozenset[str]]:
        with self.engine.connect() as conn:
            applied = views.applied(conn, self.directory_name)
            found = views.candidates(conn, case, now, self.policy(case.agency).recent_days)
            return found, applied, views.witnesses(conn, case.incident_ref)

    async def _candidates(self, state: Deciding) -> Deciding:
        """What a decision needs besides the case: the candidates (the directory view with this replica's
        own recent picks overlaid) and the case's witnesses, as of now."""
        if state.case.status == "new":
            return state
        now = self.clock.now()
        found, applied, seen = await asyncio.to_thread(self._inputs, state.case, now)
        peers = self.ledger.overlay(found, applied)
        return Deciding(state.case, peers, domain.Context(now, self.policy(state.case.agency), seen))

    @contextmanager
    def _held(self, events: Sequence[Event]) -> Iterator[None]:
        """Concurrent decisions in this replica see the pick at once, until it is recorded or refused."""
        self.ledger.hold(list(events))
        try:
            yield
        finally:
            self.ledger.release(list(events))

    async def decide(
        self,
        agency: str,
        case_id: str,
        decide: domain.Decide,
        cause: Envelope | None = None,
        command_id: str | None = None,
    ) -> list[Event]:
        """Decide on the current case and append; returns what was appended (empty: nothing to do)."""

        def rule(state: Deciding) -> list[Event]:
            if state.ctx is None:  # a case not requested (yet): nothing to decide on
                return []
            return decide(state.case, state.peers, state.ctx)

        done = await decision.decide(
            self.store,
            Aggregate(agency, "case", case_id),
            lambda history: Deciding(fold_case(case_id, history)),
            rule,
            source=SOURCE,
            clock=self.clock,
            command_id=command_id,
            cause=cause,
            inputs=self._candidates,
            holding=self._held,
        )
        if done.events:  # no await since the append: held picks become recorded ones at once
            self.ledger.record(done.version, done.events)
            await self._alert(agency, case_id, done.events)
        return done.events

    async def _alert(self, agency: str, case_id: str, events: list[Event]) -> None:
        """Besides the `coordinator_alerted` event: a live notification on `notify.<agency>.coordinator`."""
        for e in events:
            if isinstance(e, CoordinatorAlerted) and self._nc is not None:
                body = {"case_id": case_id, "agency": agency, "reason": e.reason}
                await self._nc.publish(f"notify.{agency}.coordinator", json.dumps(body).encode())

    async def handle(self, requested: Envelope) -> list[Event]:
        return await self.decide(
            requested.agency,
            requested.subject,
            domain.assign,
            cause=requested,
            command_id=answering(requested),
        )

    async def expire(self, agency: str, case_id: str, assignment_id: str) -> list[Event]:
        def decide(case: domain.Case, peers: list[Peer], ctx: domain.Context) -> list[Event]:
            return domain.expire(case, assignment_id, peers, ctx)

        return await self.decide(agency, case_id, decide, command_id=f"expire/{assignment_id}")

    async def hand_on(
        self, agency: str, case_id: str, peer_ref: str, why: HandOn, command_id: str | None = None
    ) -> list[Event]:
        def decide(case: domain.Case, peers: list[Peer], ctx: domain.Context) -> list[Event]:
            return domain.hand_on(case, peer_ref, why, peers, ctx)

        return await self.decide(agency, case_id, decide, command_id=command_id)

    async def reassign(self, agency: str, case_id: str, command_id: str | None = None) -> list[Event]:
        return await self.decide(agency, case_id, domain.assign, command_id=command_id)

    # --- the fast path for new requests: a fetched batch decided on one snapshot, appended in one write -

    async def prepare(self, batch: list[Delivered]) -> Prepared:
        """Decide a batch of new requests on one snapshot (the picks are held in the ledger until
        `complete` appends them, each at the version of its own `support_requested`: its sequence)."""
        cases = [
            domain.evolve(domain.Case(case_id=env.subject), env.payload(), env.agency, env.subject)
            for env, _, _ in batch
        ]
        now = self.clock.now()
        # On the loop, not in a thread: a few indexed reads cost less than the two thread hand-overs,
        # which on a busy machine each wait for the scheduler.
        snapshot = self.reader.read(cases, now)
        # A request the view shows decided was handled before (a redelivery, a replayed history): nothing
        # to pick, nothing to append.
        todo = [c for c in cases if c.case_id not in snapshot.decided]
        picks = iter(decide_all(todo, snapshot, self.ledger, self.policy, now))
        decided = [[] if c.case_id in snapshot.decided else next(picks) for c in cases]
        return Prepared(batch, decided, now)

    async def complete(self, prepared: Prepared) -> list[BaseException | None]:
        """Append a prepared batch in one write; per request None (done) or what failed it. A case that
        moved on since (a redelivery, a cancellation) conflicts and takes the slow path: reload, decide
        again."""
        batch, decided = prepared.batch, prepared.decided
        outcomes = await self._append_batch(batch, decided, prepared.now)
        results: list[BaseException | None] = []
        conflicts: list[int] = []
        for i, ((env, _, _), events, outcome) in enumerate(zip(batch, decided, outcomes, strict=True)):
            if isinstance(outcome, ConcurrencyConflict):
                conflicts.append(i)
            elif outcome is None:
                await self._alert(env.agency, env.subject, events)
            results.append(outcome)
        if conflicts:  # each case its own aggregate: decided again all at once
            again = await each(self.handle(batch[i].env) for i in conflicts)
            for i, result in zip(conflicts, again, strict=True):
                results[i] = result
        return results

    async def _append_batch(
        self, batch: list[Delivered], decided: list[list[Event]], now: datetime
    ) -> list[Exception | None]:
        """Append every case's decision (one write for the batch), each inside a span continuing its
        request's trace; per case None (appended, or nothing to append) or what stopped it."""
        spans = [
            _tracer.start_span(
                "support_requested process", context=propagate.extract(headers), kind=trace.SpanKind.CONSUMER
            )
            for _, _, headers in batch
        ]
        appends: list[Append] = []
        which: list[int] = []
        for i, ((env, seq, _), events, span) in enumerate(zip(batch, decided, spans, strict=True)):
            if events:
                case = Aggregate(env.agency, "case", env.subject)
                ids = event_ids(case, len(events), answering(env))
                envs = [
                    Envelope.wrap(
                        e, agency=env.agency, subject=env.subject, source=SOURCE, time=now, cause=env, id=i
                    )
                    for e, i in zip(events, ids, strict=True)
                ]
                appends.append(Append(envs, seq, trace.set_span_in_context(span)))
                which.append(i)
        results: list[int | Exception] = []
        try:
            results = await self.store.append_many(appends) if appends else []
        except Exception as exc:
            results = [exc] * len(appends)
        finally:  # no await in here: this replica's picks move from held to recorded at once
            for i, result in zip(which, results, strict=False):
                if not isinstance(result, Exception):
                    self.ledger.record(result, decided[i])
            for events in decided:
                self.ledger.release(events)
            for span in spans:
                span.end()
        out: list[Exception | None] = [None] * len(batch)
        for i, result in zip(which, results, strict=True):
            out[i] = result if isinstance(result, Exception) else None
        return out
