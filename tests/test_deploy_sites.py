"""Enabling an agency site on a provisioned Kubernetes region, as docs/deploy.md section 12 says: the
bootstrap Job of the production overlay with its sites patch uncommented, and the documented
`log-admin` update of the CAD inbox, run against a real nats-server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shared.buspolicy import Identity, log_admin
from shared.consumers.intake import site_stream_name
from shared.natsserver import DEMO_AGENCIES, NatsServer
from tests.support.deploy import DEPLOY, ROOT, container, renderer

SITE = "riverton-fire"
BIN = Path(sys.executable).parent


class RegionWithLogAdmin(NatsServer):
    """A region whose auth.conf was rendered with `--log-admin` for the change (docs/bus.md)."""

    def identities(self) -> tuple[Identity, ...]:
        return (*super().identities(), log_admin())


@pytest.fixture
def region(tmp_path: Path) -> Iterator[NatsServer]:
    server = RegionWithLogAdmin(tmp_path / "region", agencies=DEMO_AGENCIES).start()
    try:
        yield server
    finally:
        server.stop()


def bootstrap_command(tmp_path: Path, with_sites: bool) -> list[str]:
    """The production bootstrap Job's command, rendered with the sites patch commented out or not."""
    copy = tmp_path / ("with-sites" if with_sites else "as-shipped")
    shutil.copytree(DEPLOY, copy / "deploy")
    kustomization = copy / "deploy" / "overlays" / "production" / "kustomization.yaml"
    text = kustomization.read_text()
    if with_sites:
        head, patch = text.split("  # - target:\n  #     kind: Job\n", 1)
        patch = "  # - target:\n  #     kind: Job\n" + patch
        assert "--site=riverton-fire" in patch, "the sites patch names an agency"
        text = head + re.sub(r"^  # ", "  ", patch, flags=re.MULTILINE)
    kustomization.write_text(text)
    proc = subprocess.run(
        [*renderer(), str(kustomization.parent)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    job = next(d for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == "Job")
    return list(container(job)["command"])


def run_job(command: list[str], region: NatsServer) -> subprocess.CompletedProcess[str]:
    """The Job's container command against `region`, with its environment (provisioner, replicas)."""
    args = [a.replace("$(PEERLINE_NATS_URL)", region.url) for a in command]
    env = {
        **os.environ,
        "PEERLINE_NATS_SEED_FILE": str(region.seed("provisioner")),
        "PEERLINE_STREAM_REPLICAS": "1",
    }
    args[0] = str(BIN / args[0])
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, check=False)


def documented_update() -> tuple[str, str]:
    """The Python the admin runs as `log-admin` (docs/deploy.md, section 12), and what it says it prints."""
    page = (ROOT / "docs" / "deploy.md").read_text()
    found = re.search(
        r"python - bus/log-admin\.nk \S+ <<'EOF'\n(.*?)\n\s*EOF\n.*?It prints `(.+?)`", page, re.DOTALL
    )
    assert found, "docs/deploy.md: no log-admin update of the CAD inbox"
    return textwrap.dedent(found.group(1)), found.group(2)


@pytest.mark.e2e
def test_a_site_added_to_a_provisioned_region_the_documented_way(region: NatsServer, tmp_path: Path) -> None:
    shipped, with_sites = bootstrap_command(tmp_path, False), bootstrap_command(tmp_path, True)
    assert with_sites == [*shipped, f"--site={SITE}"]
    first = run_job(shipped, region)
    assert first.returncode == 0, first.stdout + first.stderr
    # Naming the site is not enough on a provisioned region: the provisioner may not change the inbox.
    refused = run_job(with_sites, region)
    assert refused.returncode != 0 and "log-admin" in refused.stdout + refused.stderr
    env = {**os.environ, "PEERLINE_NATS_URL": region.url, "PEERLINE_STREAM_REPLICAS": "1"}
    env.pop("PEERLINE_NATS_CA_FILE", None)
    script, prints = documented_update()
    update = subprocess.run(
        [sys.executable, "-", str(region.seed("log-admin")), SITE],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert update.returncode == 0, update.stderr
    assert update.stdout.strip() == prints == f"PEERLINE_CAD_INBOX sources: [{site_stream_name(SITE)!r}]"
    # ...and every later run of the Job, with the site named, accepts the inbox as it now is.
    again = run_job(with_sites, region)
    assert again.returncode == 0, again.stdout + again.stderr
