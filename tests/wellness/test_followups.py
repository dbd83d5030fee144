"""Follow-ups after an initial contact: scheduled per agency policy, due exactly once, overdue after the
grace period, completed by the peer — across restarts, with time from a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.wellness.domain import followup_id
from services.wellness.tables import timers
from shared.contracts.tracking import ContactLogged
from shared.contracts.wellness import FollowupScheduled
from shared.envelope import STREAM, Envelope
from shared.topology import DLQ_STREAM

from .conftest import Rig

pytestmark = pytest.mark.integration
A = "riverton-fire"


def contact(peer: str = "p-1", initial: bool = True) -> ContactLogged:
    return ContactLogged(
        peer_ref=peer,
        week="2026-W02",
        mode="phone",
        categories=("operational_stress",),
        duration="15_30m",
        initial=initial,
    )


async def names(rig: Rig, subject: str) -> Counter[str]:
    return Counter(e.event_name for e in await rig.events(subject))


async def test_initial_contact_schedules_followups_that_fall_due_then_overdue(rig: Rig) -> None:
    t0 = rig.clock.now()
    await rig.publish(contact(), A, "c-1")
    await rig.publish(contact(initial=False), A, "c-1")
    await rig.publish(contact(), A, "c-1")  # a second "initial" report does not plan again
    await rig.settle()
    scheduled = [e.payload() for e in await rig.events("ev.*.followup.*.followup_scheduled")]
    assert sorted((s.n, s.due_at) for s in scheduled if isinstance(s, FollowupScheduled)) == [
        (1, (t0 + timedelta(days=3)).isoformat()),
        (2, (t0 + timedelta(days=30)).isoformat()),
    ]
    first, second = followup_id("c-1", 1), followup_id("c-1", 2)
    rig.clock.advance(days=3)
    await rig.settle()
    assert await names(rig, f"ev.{A}.followup.{first}.>") == {"followup_scheduled": 1, "followup_due": 1}
    rig.clock.advance(days=2)  # the grace period passes without the peer reporting
    await rig.settle()
    assert (await names(rig, f"ev.{A}.followup.{first}.>"))["followup_overdue"] == 1
    rig.clock.advance(days=60)
    await rig.settle()
    assert await names(rig, f"ev.{A}.followup.{first}.>") == {
        "followup_scheduled": 1,
        "followup_due": 1,
        "followup_overdue": 1,
    }
    assert await names(rig, f"ev.{A}.followup.{second}.>") == {
        "followup_scheduled": 1,
        "followup_due": 1,
        "followup_overdue": 1,
    }


async def test_a_completed_followup_is_never_overdue(rig: Rig) -> None:
    await rig.publish(contact("p-9"), A, "c-2")
    await rig.settle()
    fid = followup_id("c-2", 1)
    rig.clock.advance(days=3)
    await rig.settle()
    from services.wellness import domain
    from services.wellness.reactions import fold_followup

    await rig.app.writer.decide(
        A, "followup", fid, lambda h: domain.complete_followup(fold_followup(h), "p-9")
    )
    rig.clock.advance(days=10)
    await rig.settle()
    assert await names(rig, f"ev.{A}.followup.{fid}.>") == {
        "followup_scheduled": 1,
        "followup_due": 1,
        "followup_completed": 1,
    }


async def test_a_thousand_followups_fall_due_exactly_once_across_a_crash(rig: Rig) -> None:
    due_at = rig.clock.now() + timedelta(hours=1)
    envs = [
        Envelope.wrap(
            FollowupScheduled(
                case_id=f"c-{i}", peer_ref="p-1", due_at=(due_at + timedelta(seconds=i)).isoformat(), n=1
            ),
            agency=A,
            subject=followup_id(f"c-{i}", 1),
            source="peerline/wellness",
            time=rig.clock.now(),
        )
        for i in range(1000)
    ]
    for start in range(0, 1000, 200):
        await asyncio.gather(*(rig.store.append([e], expected=0) for e in envs[start : start + 200]))
    await rig.view.catch_up()
    rig.clock.advance(hours=1, seconds=1000)
    assert await rig.app.timers.tick() == 200  # fired and appended; the view has not seen them: crash now
    crashed = await rig.restarted()
    rig.clock.advance(minutes=5)  # the interrupted timers are retried after the retry interval,
    assert await crashed.app.timers.tick() == 200  # before the view catches up: each finds its work done
    await crashed.settle()
    again = await crashed.restarted()  # and once more after everything settled
    rig.clock.advance(days=1)
    await again.settle()
    due = await again.events(f"ev.{A}.followup.*.followup_due")
    assert len(due) == 1000 and len({e.subject for e in due}) == 1000


async def test_a_timer_that_keeps_failing_is_dead_lettered_and_the_others_still_fire(rig: Rig) -> None:
    await rig.publish(contact(), A, "c-1")
    await rig.publish(contact(), A, "c-2")
    await rig.settle()
    poisoned, healthy = followup_id("c-1", 1), followup_id("c-2", 1)
    odd = {
        "specversion": "1.0",
        "id": "e-odd",
        "source": "peerline/wellness",
        "type": "peerline.followup_completed.v9",
        "subject": poisoned,
        "time": rig.clock.now().isoformat(),
        "agency": A,
        "data": {},
    }
    subject = f"ev.{A}.followup.{poisoned}.followup_completed"
    await rig.js.publish(subject, json.dumps(odd).encode(), stream=STREAM)
    rig.clock.advance(days=3)
    for _ in range(8):  # each retry comes after the retry interval
        await rig.view.catch_up()
        await rig.app.timers.tick()
        rig.clock.advance(seconds=11)
    assert (await names(rig, f"ev.{A}.followup.{healthy}.>"))["followup_due"] == 1
    dead = await rig.js.subscribe("dlq.wellness-view", stream=DLQ_STREAM, ordered_consumer=True)
    msg = await dead.next_msg(timeout=5)
    while msg.headers is None or not msg.headers["Peerline-Original-Subject"].startswith("timer."):
        msg = await dead.next_msg(timeout=5)  # the view dead-lettered the odd event itself first
    assert f"timer.{A}.followup_due" == msg.headers["Peerline-Original-Subject"]
    assert "followup_completed.v9" in msg.headers["Peerline-Reason"]
    assert json.loads(msg.data)["aggregate_id"] == poisoned
    with rig.app.engine.connect() as conn:
        left = {r.timer_id for r in conn.execute(select(timers.c.timer_id))}
    assert f"due:{poisoned}" not in left  # given up on: no longer retried for ever
