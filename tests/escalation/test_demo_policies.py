"""The demo agencies' disclosure policies are written to the log only where asked for (the embedded
stack, the dev overlay, docker-compose): a production region starts with none, for its regional admin
to set."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.escalation.domain.policies import DEMO_REGION
from services.escalation.main import Escalation
from services.escalation.settings import EscalationSettings
from shared.auth import generate_dev_keys
from shared.natsserver import NatsServer
from shared.runtime import service_env
from shared.topology import provision
from tests.support.bus import connect, seed, seeds

pytestmark = pytest.mark.integration


async def policy_versions(server: NatsServer, var: Path, **settings: bool) -> dict[str, int]:
    """Start escalation (as a process would, from its settings), then read each demo agency's policy."""
    _, public = generate_dev_keys(var / "keys")
    app = Escalation(
        EscalationSettings(
            nats_url=server.url,
            nats_seed_file=seed(server.url, "escalation"),
            var_dir=var,
            jwt_public_key_file=public,
            **settings,
        )
    )
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
