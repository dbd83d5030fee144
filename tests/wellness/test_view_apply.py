"""The view's incident bookkeeping and the offer timer, in-process on SQLite (no server): each person is
recorded once per incident, exposure is counted in each member's own agency window, the work loop is
woken by what can schedule a timer, and the start-up warm-up and heap freeze change nothing else."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, select

from services.wellness.commands import Writer
from services.wellness.domain.policy import Policies
from services.wellness.main import Wellness
from services.wellness.projection import NOW, WellnessProjection
from services.wellness.projection.warmup import warm_up
from services.wellness.reactions import Worker
from services.wellness.reactions.scheduler import Scheduler
from services.wellness.settings import WellnessSettings
from services.wellness.tables import involvements, timers
from shared.auth import Auth, Verifier, generate_dev_keys
from shared.clock import FakeClock
from shared.contracts.base import Event
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, IncidentRespondersAdded, Involved
from shared.contracts.wellness import DebriefOffered, ExposureCheckinOffered
from shared.db import make_engine
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict, EventStore, History, Stored
from shared.items import item_of
from shared.projection import apply_batch, digest, ensure_schema
from shared.service import settle_heap
from shared.timers import Timer, due

from .conftest import POLICY

pytestmark = pytest.mark.unit
A, B = "riverton-fire", "riverton-police"
POLICIES = Policies(
    default=POLICY, agencies={B: POLICY.model_copy(update={"exposure_window": timedelta(days=5)})}
)


class MemoryLog:
    """Just enough of EventStore for the offer worker: per-aggregate histories, expected versions."""

    def __init__(self) -> None:
        self.seq = 0
        self.histories: dict[tuple[str, str, str], list[Stored]] = {}
        self.appended: list[Stored] = []

    async def load(self, agency: str, aggregate: str, aggregate_id: str) -> History:
        return History(list(self.histories.get((agency, aggregate, aggregate_id), [])))

    async def append(self, envs: Sequence[Envelope], expected: int | None) -> int:
        history = self.histories.setdefault((envs[0].agency, envs[0].aggregate, envs[0].subject), [])
        if expected is not None and (history[-1].seq if history else 0) != expected:
            raise ConcurrencyConflict(envs[0].subject, expected)
        for env in envs:
            self.seq += 1
            history.append(Stored(env, self.seq))
            self.appended.append(Stored(env, self.seq))
        return self.seq


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.clock = FakeClock()
        self.engine: Engine = make_engine(f"sqlite:///{tmp}/view.db")
        self.view = WellnessProjection(POLICIES)
        ensure_schema(self.engine, self.view)
        self.log = MemoryLog()
        writer = Writer(lambda: cast(EventStore, self.log), self.clock)
        self.worker = Worker(self.engine, writer, POLICIES, self.clock)

    async def record(
        self, event: Event, agency: str, subject: str, cause: Envelope | None = None
    ) -> Envelope:
        """Append to the log and apply to the view, as the live runner would."""
        env = Envelope.wrap(
            event, agency=agency, subject=subject, source="peerline/test", time=self.clock.now(), cause=cause
        )
        await self.log.append([env], expected=None)
        self.apply([env])
        return env

    def apply(self, envs: Sequence[Envelope]) -> None:
        seqs = {s.envelope.id: s.seq for s in self.log.appended}
        apply_batch(self.engine, self.view, [item_of(e, seqs[e.id]) for e in envs])

    async def fire_offers(self, incident_id: str, agency: str = A, stored: bool = True) -> list[Envelope]:
        """Fire the incident's offer timer as the view stored it (or as older views did, without data);
        apply (and return) what it appended."""
        timer_id = f"offer:{agency}:{incident_id}"
        timer = Timer(timer_id, "offer", agency, incident_id, NOW, {})
        if stored:
            (timer,) = [
                t for t in due(self.engine, timers, self.clock.now(), timedelta(0)) if t.timer_id == timer_id
            ]
        before = len(self.log.appended)
        await self.worker.fire(timer)
        made = [s.envelope for s in self.log.appended[before:]]
        self.apply(made)
        return made

    def offer_timers(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(timers.c.timer_id).where(timers.c.kind == "offer")).scalars())


def report(*people: Involved) -> CriticalIncidentReported:
    return CriticalIncidentReported(
        incident_type="structure fire", agencies=(A,), flags=IncidentFlags(), involved=people
    )


def person(ref: str, agency: str = A, role: str = "responder") -> Involved:
    return Involved(member_ref=ref, agency=agency, role=role)


async def test_a_person_named_twice_in_one_report_is_recorded_once_as_first_named(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    await s.record(report(person("m-1"), person("m-2"), person("m-1", role="dispatcher")), A, "i-1")
    with s.engine.connect() as conn:
        rows = conn.execute(select(involvements.c.member_ref, involvements.c.role)).all()
    assert sorted(rows) == [("m-1", "responder"), ("m-2", "responder")]
    assert s.offer_timers() == [f"offer:{A}:i-1"]
    made = await s.fire_offers("i-1")
    assert sorted(e.payload().member_ref for e in made) == ["m-1", "m-2"]  # type: ignore[attr-defined]
    assert s.offer_timers() == []  # every offer seen by the view: the timer is settled


async def test_naming_only_people_already_recorded_schedules_nothing(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    await s.record(report(person("m-1"), person("m-2")), A, "i-1")
    await s.fire_offers("i-1")
    await s.record(IncidentRespondersAdded(involved=(person("m-2"), person("m-1"))), A, "i-1")
    await s.record(report(person("m-1")), A, "i-1")
    assert s.offer_timers() == []
    await s.record(IncidentRespondersAdded(involved=(person("m-1"), person("m-3"))), A, "i-1")
    assert s.offer_timers() == [f"offer:{A}:i-1"]
    made = await s.fire_offers("i-1")
    assert [e.payload().member_ref for e in made] == ["m-3"]  # type: ignore[attr-defined]


async def test_exposure_is_counted_per_member_within_their_own_agencys_window(tmp_path: Path) -> None:
    s = Setup(tmp_path)  # threshold 2; agency A counts 90 days back, agency B 5 days
    crew = (person("m-a"), person("m-b", agency=B), person("m-c"))
    await s.record(report(*crew[:2]), A, "i-1")
    await s.fire_offers("i-1")
    s.clock.advance(days=10)
    await s.record(report(*crew), A, "i-2")
    made = await s.fire_offers("i-2")
    checkins = [e.payload() for e in made if e.event_name == "exposure_checkin_offered"]
    assert [(c.member_ref, c.incidents_in_window) for c in checkins] == [("m-a", 2)]  # type: ignore[attr-defined]
    assert all(isinstance(c, ExposureCheckinOffered) for c in checkins)
    assert sum(1 for e in made if isinstance(e.payload(), DebriefOffered)) == 3


async def test_offers_follow_the_report_that_named_the_people(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    first = await s.record(report(person("m-1"), person("m-2")), A, "i-1")
    made = await s.fire_offers("i-1")
    assert {(e.causationid, e.correlationid) for e in made} == {(first.id, first.id)}
    added = await s.record(IncidentRespondersAdded(involved=(person("m-3"),)), A, "i-1", cause=first)
    made = await s.fire_offers("i-1")
    assert [(e.causationid, e.correlationid) for e in made] == [(added.id, first.id)]
    # a later report naming nobody new does not become the cause: the one that named them is
    named = await s.record(IncidentRespondersAdded(involved=(person("m-4"),)), A, "i-1", cause=first)
    await s.record(IncidentRespondersAdded(involved=(person("m-4"),)), A, "i-1", cause=first)
    made = await s.fire_offers("i-1")
    assert [(e.causationid, e.correlationid) for e in made] == [(named.id, first.id)]
    # a timer stored before timers carried their cause: the incident's last event is the cause
    await s.record(IncidentRespondersAdded(involved=(person("m-5"),)), A, "i-1", cause=first)
    repeat = await s.record(IncidentRespondersAdded(involved=(person("m-5"),)), A, "i-1", cause=first)
    made = await s.fire_offers("i-1", stored=False)
    assert [(e.causationid, e.correlationid) for e in made] == [(repeat.id, first.id)]


def test_the_work_loop_is_woken_by_events_that_can_schedule_a_timer(tmp_path: Path) -> None:
    _, public = generate_dev_keys(tmp_path / "keys")
    auth = Auth(Verifier(issuer="peerline-dev", audience="peerline", public_key_pem=public.read_bytes()))
    app = Wellness(WellnessSettings(var_dir=tmp_path), auth=auth, clock=FakeClock(), policies=POLICIES)
    offered = DebriefOffered(
        incident_id="i-1",
        incident_agency=A,
        member_ref="m-1",
        role="responder",
        offer_type="check_in",
        window_opens="2026-01-05T09:00:00+00:00",
        window_closes="2026-01-19T09:00:00+00:00",
    )
    quiet = Envelope.wrap(offered, agency=A, subject="d-1", source="peerline/test")
    app.committed([item_of(quiet, 1)])
    assert not app.wake.is_set()
    busy = Envelope.wrap(report(person("m-1")), agency=A, subject="i-1", source="peerline/test")
    app.committed([item_of(quiet, 2), item_of(busy, 3)])
    assert app.wake.is_set()


def test_startup_objects_are_kept_out_of_later_full_collections() -> None:
    gc.unfreeze()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000  # the modules and app this process has built so far
    finally:
        gc.unfreeze()


async def test_warming_up_leaves_the_view_and_its_timers_as_they_were(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    await s.record(report(person("m-1")), A, "i-1")
    before = digest(s.engine, s.view)
    warm_up(s.engine, s.view, POLICIES, s.clock)
    scheduler = Scheduler(s.engine, timers, s.clock, s.worker.fire)
    scheduler.warm_up()
    assert digest(s.engine, s.view) == before
    with s.engine.connect() as conn:
        assert conn.execute(select(timers.c.attempted_at)).scalars().all() == [None]  # not claimed
    assert await scheduler.tick() == 1  # still due, and fired as before
    assert s.offer_timers() == [f"offer:{A}:i-1"]  # left for the view to settle
