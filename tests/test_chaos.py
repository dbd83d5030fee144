"""The reduced chaos runs: services killed with -9 and nats-server restarted (or, on a cluster, a node
killed) under load (support requests and CAD incidents) lose nothing, offer no debrief twice and miss
none."""

from __future__ import annotations

import pytest

from bench.chaos.__main__ import main as chaos
from bench.chaos.invariants import Log, incident_violations

ARGS = ["--requests", "400", "--rate", "40", "--incidents", "100", "--roster", "15"]
ARGS += ["--kills", "5", "--nats-restarts", "1", "--settle", "60", "--contacts", "150"]


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_nothing_is_lost_when_processes_die() -> None:
    assert chaos(ARGS) == 0


# On a 3-node NATS cluster with the log at R3: a node killed with -9 three times (twice the log's stream
# leader) beside the service kills; `make chaos CLUSTER=1` kills one five times under a longer load.
CLUSTER_ARGS = ["--cluster", "--requests", "150", "--rate", "6", "--incidents", "30", "--roster", "10"]
CLUSTER_ARGS += ["--kills", "2", "--nats-restarts", "3", "--settle", "40", "--contacts", "20"]


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_nothing_is_lost_when_nats_nodes_die() -> None:
    assert chaos(CLUSTER_ARGS) == 0


@pytest.mark.unit
def test_incident_checker_names_a_second_report_a_missing_offer_and_a_twice_offered_member() -> None:
    log = Log()
    log.reports.update({("fire", "i-1"): 1, ("fire", "i-2"): 2})
    log.involved = {("fire", "i-1"): {"m-1", "m-2"}, ("fire", "i-2"): {"m-3"}}
    log.offers.update({("fire", "i-1", "m-1"): 1, ("fire", "i-2", "m-3"): 2})
    accepted = {("fire", "CAD-1"): "i-1", ("fire", "CAD-2"): "i-2", ("fire", "CAD-3"): "i-3"}
    found = incident_violations(log, accepted)
    assert "fire/CAD-2: accepted, reported 2 times" in found
    assert "fire/CAD-3: accepted, reported 0 times" in found
    assert "fire/i-1: m-2 involved but never offered a debrief" in found
    assert "fire/i-2: m-3 offered 2 debriefs" in found
    log.offers[("fire", "i-1", "m-2")] = 1
    log.reports[("fire", "i-2")] = 1
    log.offers[("fire", "i-2", "m-3")] = 1
    assert incident_violations(log, dict(list(accepted.items())[:2])) == []


@pytest.mark.unit
def test_follow_up_checker_names_a_due_one_never_fired_and_one_fired_twice() -> None:
    from datetime import UTC, datetime, timedelta

    from bench.chaos.invariants import followup_violations

    now = datetime.now(UTC)
    log = Log(read_at=now)
    log.followups = {"f-1": now - timedelta(seconds=5), "f-2": now - timedelta(seconds=1)}
    log.followups["f-3"] = now + timedelta(days=3)  # not due yet: nothing expected
    log.fired.update({"f-1": 2, "f-9": 1})
    found = followup_violations(log)
    assert "f-1: fired 2 times" in found
    assert any(v.startswith("f-2: due at") and v.endswith("never fired") for v in found)
    assert "f-9: fired but never scheduled" in found
    assert len(found) == 3
    log.fired = type(log.fired)({"f-1": 1, "f-2": 1})
    assert followup_violations(log) == []
