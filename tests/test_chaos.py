"""The reduced chaos run: services killed with -9 and nats-server restarted under load (support requests
and CAD incidents) lose nothing, offer no debrief twice and miss none."""

from __future__ import annotations

import pytest

from bench.chaos.__main__ import main as chaos

pytestmark = pytest.mark.e2e
ARGS = ["--requests", "400", "--rate", "40", "--incidents", "100", "--roster", "15"]
ARGS += ["--kills", "5", "--nats-restarts", "1", "--settle", "60"]


@pytest.mark.timeout(300)
def test_nothing_is_lost_when_processes_die() -> None:
    assert chaos(ARGS) == 0
