"""The demo agencies' disclosure policies are written to the log only where asked for (the embedded
stack, the dev overlay, docker-compose): a production region starts with none, for its regional admin
to set."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services.escalation.domain.policies import DEMO_REGION
from services.escalation.main import Escalation
from services.escalation.settings import EscalationSettings
from shared.auth import generate_dev_keys
from shared.natsserver import NatsServer, free_port
from shared.runtime import service_env
from shared.topology import provision
from tests.support.bus import connect, seed, seeds

pytestmark = pytest.mark.integration


def escalation(server: NatsServer, var: Path, **settings: Any) -> Escalation:
    """Escalation as a process makes it, from its settings."""
    _, public = generate_dev_keys(var / "keys")
    return Escalation(
        EscalationSettings(
            nats_url=server.url,
            nats_seed_file=seed(server.url, "escalation"),
            var_dir=var,
            jwt_public_key_file=public,
            **settings,
        )
    )


async def policy_versions(server: NatsServer, var: Path, **settings: bool) -> dict[str, int]:
    """Start escalation, then read each demo agency's policy."""
    app = escalation(server, var, **settings)
    runner = await app.start()
    try:
        return {agency: (await app.commands.policy(agency)).version for agency in DEMO_REGION}
    finally:
        await runner.stop()
        await app.stop_reactions()


async def test_a_region_starts_without_demo_policies_unless_asked(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "provisioner")
    await provision(nc.jetstream())
    await nc.close()
    assert await policy_versions(nats_server, tmp_path / "prod") == dict.fromkeys(DEMO_REGION, 0)
    seeded = await policy_versions(nats_server, tmp_path / "demo", seed_demo_policies=True)
    assert seeded == dict.fromkeys(DEMO_REGION, 1)


def test_the_embedded_stack_asks_for_them(tmp_path: Path, nats_url: str) -> None:
    env = service_env(
        "escalation", nats_url=nats_url, var_dir=tmp_path, public_key=tmp_path, seeds=seeds(nats_url)
    )
    assert env["PEERLINE_SEED_DEMO_POLICIES"] == "true"


async def test_the_service_stops_with_an_error_when_its_risk_flag_reaction_ends(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """The risk-flag reaction runs beside the service's supervised tasks: if it ends while the service
    is up, the service fails (and its supervisor restarts it) instead of staying up paging nobody."""
    nc = await connect(nats_server.url, "provisioner")
    await provision(nc.jetstream())
    await nc.close()
    app = escalation(nats_server, tmp_path, http_port=free_port())
    stop = asyncio.Event()
    running = asyncio.create_task(app.run(stop))
    for _ in range(200):
        if app.ready:
            break
        await asyncio.sleep(0.05)
    assert app.ready and app._flags is not None
    await asyncio.sleep(0.3)
    assert not running.done()  # up and supervising
    app._flags[2].cancel()  # the reaction's task ends while the service is up
    with pytest.raises(RuntimeError, match="risk-flag reaction stopped"):
        await asyncio.wait_for(running, timeout=30)
