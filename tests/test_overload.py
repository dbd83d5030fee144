"""The overload benchmark, reduced: at twice intake's capacity it sheds with 503 instead of accepting what
it cannot keep, and every request it accepted reaches the log and settles."""

from __future__ import annotations

import pytest
from rich.console import Console

from bench.overload import run

ARGS = ["--capacity-seconds", "2", "--workers", "16", "--burst-seconds", "3", "--pause", "1"]
ARGS += ["--after-seconds", "1", "--max-inflight", "4", "--settle", "60"]


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_a_burst_beyond_capacity_is_shed_and_nothing_accepted_is_lost() -> None:
    result = run(ARGS, Console(quiet=True))
    codes = result["burst_codes"]
    assert isinstance(codes, dict)
    assert codes.get(503, 0) > 0, codes  # intake said "not now" rather than queueing without bound
    assert codes.get(201, 0) > 0, codes
    assert result["accepted"] > 0
    assert result["missing_from_log"] == 0  # every 201 is an event in the log
    assert result["never_settled"] == 0  # and was assigned or found unmatched
    assert result["all_settled"] is True
