"""Schemathesis over every service's OpenAPI, in-process against the real service wiring: no generated
request, valid or not, is answered with a server error. `make fuzz` runs it at full size
(PEERLINE_FUZZ_EXAMPLES per operation and generation mode; 10,000+ requests); `make test` a small run."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from shared.natsserver import NatsServer
from tests.fuzz.generate import Tally, fuzz
from tests.fuzz.stack import running

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("PEERLINE_FUZZ_EXAMPLES", "4"))


@pytest.mark.timeout(max(300, EXAMPLES * 10))
async def test_no_generated_request_gets_a_server_error(nats_server: NatsServer, tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    tallies: dict[str, Tally] = {}
    async with running(nats_server.url, tmp_path) as stack:
        for name, api in stack.apps.items():
            tallies[name] = Tally()
            await asyncio.to_thread(fuzz, api, stack.private_key, loop, EXAMPLES, tallies[name])
    total = sum(t.requests for t in tallies.values())
    errors = [e for t in tallies.values() for e in t.errors]
    for name, t in tallies.items():
        print(f"fuzz {name}: {t.requests} requests, statuses {dict(sorted(t.statuses.items()))}")
    print(f"fuzz: {total} requests, {len(errors)} answered >= 500")
    assert total >= EXAMPLES * 40
    assert not errors, "\n".join(errors[:20])
