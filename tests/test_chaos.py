"""The reduced chaos run: services killed with -9 and nats-server restarted under load lose nothing."""

from __future__ import annotations

import pytest

from bench.chaos.__main__ import main as chaos

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_nothing_is_lost_when_processes_die() -> None:
    assert (
        chaos(["--requests", "400", "--rate", "40", "--kills", "5", "--nats-restarts", "1", "--settle", "60"])
        == 0
    )
