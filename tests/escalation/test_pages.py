"""Tier 1 is paged in one hop: by the reaction that appends `escalation_triggered`, right after the append.
One page per risk flag, named by that event's id (as notify keys its notices); the same report appended
again pages nothing; a repeated attempt (which may follow an append whose page was lost) pages the same
page again; the notifier pages only later tiers (tests/escalation/test_flow.py)."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.escalation import domain
from services.escalation.reactions import escalation_id_for
from shared.contracts.escalation import EscalationTriggered, TierNotification
from shared.contracts.tracking import ContactLogged
from shared.envelope import STREAM, Envelope
from shared.eventstore import EventStore, headers_for
from shared.natsserver import NatsServer
from tests.escalation.conftest import AGENCY, Harness
from tests.support.bus import connect

pytestmark = pytest.mark.integration
RISK = ContactLogged(
    peer_ref="p-1", week="2026-W02", mode="phone", categories=("health",), duration="15_30m", risk_flag=True
)


async def settled(js: JetStreamContext, *durables: str) -> None:
    """Wait until each durable has handled and acked all it was given (its pages published before)."""
    for durable in durables:
        while True:
            info = await js.consumer_info(STREAM, durable)
            if not info.num_pending and not info.num_ack_pending:
                break
            await asyncio.sleep(0.02)


async def quiet(h: Harness) -> None:
    """Everything escalation reacts to is handled, and every page it sent before has reached us."""
    await asyncio.wait_for(settled(h.nc.jetstream(), "escalation-riskflags", "escalation-notifier"), 10)
    await h.nc.flush()


def drain(h: Harness) -> list[TierNotification]:
    pages = []
    while not h.pages.empty():
        pages.append(h.pages.get_nowait())
    return pages


async def test_a_risk_flag_pages_tier_1_once_from_the_append_and_a_repeated_report_pages_no_other_page(
    h: Harness, nats_server: NatsServer
) -> None:
    case_id = await h.open_case()
    tracking = await connect(nats_server.url, "tracking")
    try:
        store = EventStore(tracking.jetstream())
        flagged = Envelope.wrap(RISK, agency=AGENCY, subject=case_id, source="test/tracking")
        await store.append([flagged], (await store.load(AGENCY, "case", case_id)).version)
        page = await h.page()
        x = escalation_id_for(flagged)
        [trig] = (await h.store.load(AGENCY, "escalation", x)).events
        assert isinstance(trig.envelope.payload(), EscalationTriggered)
        assert (page.escalation_id, page.tier, page.role) == (x, 1, "clinician")
        # the page names the event notify keys its notices on: to receivers, one page per escalation
        assert page.event_id == trig.envelope.id
        await quiet(h)  # the notifier has had escalation_triggered too, and paged nothing
        assert drain(h) == []

        # the same report on the log a second time (another message id): decided once, no other page
        headers = {**headers_for(flagged), "Nats-Msg-Id": "again-" + flagged.id}
        await tracking.jetstream().publish(flagged.nats_subject, flagged.to_bytes(), headers=headers)
        await quiet(h)
        assert len((await h.store.load(AGENCY, "escalation", x)).events) == 1
        assert drain(h) == []
    finally:
        await tracking.close()


async def test_a_repeated_attempt_appends_once_and_pages_the_same_page(h: Harness) -> None:
    """What a risk flag redelivered after an append whose page was lost does: the page goes out."""
    case_id = await h.open_case()
    cmd = domain.RaiseConcern(case_id=case_id, category="imminent_self_harm", raised_by_role="peer")
    assert await h.app.commands.raise_concern(AGENCY, "x-again", cmd) is True
    first = await h.page()
    assert await h.app.commands.raise_concern(AGENCY, "x-again", cmd) is True  # the same decision
    assert await h.page() == first  # the same page: its receivers drop it by its event id
    assert len((await h.store.load(AGENCY, "escalation", "x-again")).events) == 1
    await quiet(h)
    assert drain(h) == []


async def test_a_risk_flag_where_no_policy_is_recorded_still_pages(h: Harness) -> None:
    agency = "lakeside-dispatch"  # not in the demo region: no policy seeded
    case_id = await h.open_case(agency)
    flagged = await h.append(agency, case_id, RISK)
    page = await h.page()
    assert (page.agency, page.case_id, page.role, page.disclosable) == (agency, case_id, "clinician", False)
    assert page.escalation_id == escalation_id_for(flagged)


async def test_the_page_and_the_escalation_continue_the_trace_of_the_flagged_report(h: Harness) -> None:
    case_id = await h.open_case()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    seen: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        await seen.put((msg.subject, msg.headers or {}))

    subs = [
        await h.nc.subscribe(f"notify.{AGENCY}.>", cb=on_msg),
        await h.nc.subscribe(f"ev.{AGENCY}.escalation.*.escalation_triggered", cb=on_msg),
    ]
    flagged = Envelope.wrap(RISK, agency=AGENCY, subject=case_id, source="test/tracking")
    headers = {**headers_for(flagged), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    await h.nc.jetstream().publish(flagged.nats_subject, flagged.to_bytes(), stream=STREAM, headers=headers)
    got = dict([await asyncio.wait_for(seen.get(), 10) for _ in range(2)])
    for sub in subs:
        await sub.unsubscribe()
    assert {s.split(".")[0] for s in got} == {"notify", "ev"}
    for subject, sent in got.items():
        assert sent["traceparent"].split("-")[1] == trace_id, subject
