"""`shared.service.run_until_stopped`: how a service process runs its tasks."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from services.escalation.settings import EscalationSettings
from services.matching.settings import MatchingSettings
from shared.service import run_until_stopped
from shared.settings import ServiceSettings


async def test_each_service_runs_with_the_switch_interval_its_settings_give() -> None:
    seen: list[float] = []

    async def task(stop: asyncio.Event) -> None:
        seen.append(sys.getswitchinterval())
        stop.set()

    before = sys.getswitchinterval()
    try:
        for settings in (ServiceSettings(), MatchingSettings(), EscalationSettings()):
            await run_until_stopped([task], asyncio.Event(), settings.switch_interval_s)
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()
    # matching's and escalation's are their own, not the default
    assert seen == [pytest.approx(0.001), pytest.approx(0.0005), pytest.approx(0.0002)]
