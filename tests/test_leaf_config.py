"""The configuration of an agency site and of the region it links to, as the CLI issues and renders it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.leafnode import SiteServer
from shared.natsserver import NatsServer
from tests.support.natsconf import block, nats_server_binary


def valid(conf: Path) -> None:
    proc = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"nats-server rejected {conf.name}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.unit
def test_the_region_issues_a_site_link_that_may_carry_only_the_site_stream(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        app, ["bus", "credentials", "--dir", str(tmp_path), "--agency", "a1", "--site", "a1"]
    )
    assert out.exit_code == 0, out.output
    seed = tmp_path / "site-link-a1.nk"
    assert seed.stat().st_mode & 0o777 == 0o600
    auth = (tmp_path / "auth.conf").read_text()
    assert "# site-link-a1" in auth, "auth.conf admits the site's link"
    user = auth.split("# site-link-a1", 1)[1].split("\n", 2)[1]  # the user's line, after its comment
    assert '"$JS.site-a1.API.CONSUMER.CREATE.PEERLINE_SITE_A1"' in user
    assert '"$JS.S.>"' in user and "cad." not in user and "ev." not in user, "nothing else crosses the link"


@pytest.mark.unit
def test_a_hub_and_a_site_render_configs_nats_server_accepts(tmp_path: Path) -> None:
    hub = NatsServer(tmp_path / "hub", sites=("a1",), leaf_port=7422)
    hub_conf = hub._write_config()
    valid(hub_conf)
    assert "7422" in (block(hub_conf.read_text(), "leafnodes", top_level=True) or "")
    site = SiteServer(
        tmp_path / "site",
        agency="a1",
        hub_urls=("nats-leaf://127.0.0.1:7422",),
        link_seed=hub.seed("site-link-a1"),
    )
    site_conf = site._write_config()
    valid(site_conf)
    text = site_conf.read_text()
    assert 'domain: "site-a1"' in text and "nats-leaf://127.0.0.1:7422" in text
    assert site_conf.stat().st_mode & 0o777 == 0o600, "the link's seed is in it"
    site.linked = False
    assert block(site._write_config().read_text(), "leafnodes", top_level=True) is None, (
        "a cut site has no remote"
    )
