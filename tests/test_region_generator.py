"""The regional history generator (`bench.region_store`, over `demo.activity`): every event decodes with
its contract under its subject, is appended by the service that produces it, and each aggregate's events
come in an order its own rules allow; the same parameters give the same history."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bench.region_store import Params, generate
from shared.buspolicy import produced_events
from shared.envelope import read_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]
PARAMS = Params(events=4_000, agencies=3, years=1, seed=5)
# What opens each aggregate: nothing of it may come before.
OPENS = {
    "case": "support_requested",
    "peer": "peer_enrolled",
    "followup": "followup_scheduled",
    "debrief": "debrief_offered",
    "escalation": "escalation_triggered",
    "incident": "critical_incident_reported",
    "policy": "disclosure_policy_recorded",
    "exposure": "exposure_checkin_offered",
}
CLOSES = {"case": "case_closed", "escalation": "escalation_resolved", "followup": "followup_completed"}


def test_every_event_is_a_valid_event_of_its_producer_in_an_order_its_aggregate_allows() -> None:
    writes = list(generate(PARAMS))
    assert len(writes) == PARAMS.events
    producers = {event: service for service, events in produced_events().items() for _, event in events}
    streams: dict[str, list[str]] = defaultdict(list)
    last_time = writes[0].envelope.time
    for w in writes:
        env, _ = read_event(w.envelope.to_bytes(), w.envelope.nats_subject)  # decodes with its contract
        assert producers[env.event_name] == w.identity, env.event_name
        assert env.time >= last_time  # the history is in time order
        last_time = env.time
        streams[f"{env.agency}.{env.aggregate}.{env.subject}"].append(env.event_name)
    kinds = {key.split(".")[1] for key in streams}
    assert {"case", "peer", "followup", "escalation", "incident", "debrief", "policy"} <= kinds
    for key, names in streams.items():
        aggregate = key.split(".")[1]
        assert names[0] == OPENS[aggregate], (key, names)
        if aggregate != "exposure":  # a check-in may come again in a later window
            assert names.count(OPENS[aggregate]) == 1, (key, names)
        if aggregate in CLOSES and CLOSES[aggregate] in names:
            assert names[-1] == CLOSES[aggregate], (key, names)  # nothing after the end
    assert len({w.envelope.id for w in writes}) == len(writes)


def test_the_same_parameters_give_the_same_history() -> None:
    first = [w.envelope.to_bytes() for w in generate(Params(events=500, agencies=2, years=1))]
    again = [w.envelope.to_bytes() for w in generate(Params(events=500, agencies=2, years=1))]
    assert first == again
