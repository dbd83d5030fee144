"""Agency sites' leaf links to the Kubernetes region (docs/leaf-sites.md): the leaf listener in both
overlays' nats.conf, its TLS in production, and — with the production config run for real — that only a
`site-link-<agency>` identity may link, and only as a leaf. (tests/test_deploy_reach.py checks that 7422
is the one port reachable from outside.)"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats.errors
import pytest

from shared.buscreds import authorization_from_seeds, public_key
from shared.buspolicy import region
from shared.leafnode import SiteServer
from shared.natsserver import DEMO_AGENCIES, free_port
from tests.support import bus
from tests.support.deploy import AUTH_SECRET, OVERLAYS, container, mounted_file, objects, one, one_prefixed
from tests.support.natsconf import TLS_ROOT, block, nats_server_binary, settings
from tests.support.tls import write_tls_dir

LEAF_PORT = 7422
SITE = DEMO_AGENCIES[0]


def nats_conf(overlay: str) -> str:
    sts = one(overlay, "StatefulSet", "nats")
    c = container(sts, "nats")
    _, name, key = mounted_file(sts, c, c["command"][c["command"].index("--config") + 1])
    return str(one(overlay, "ConfigMap", name)["data"][key])


def leafnodes(overlay: str) -> str:
    body = block(nats_conf(overlay), "leafnodes", top_level=True)
    assert body is not None, f"{overlay}: nats.conf has no leafnodes block"
    return body


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_node_listens_for_sites_behind_the_leaf_service(overlay: str) -> None:
    leaf = settings(leafnodes(overlay))
    assert leaf["listen"] == f"0.0.0.0:{LEAF_PORT}"
    assert leaf.get("no_advertise") == "true", "sites dial the Service, never pod addresses"
    assert "authorization" not in leafnodes(overlay), "leaves authenticate as users of auth.conf"
    ports = {
        p["name"]: p["containerPort"] for p in container(one(overlay, "StatefulSet", "nats"), "nats")["ports"]
    }
    assert ports["leaf"] == LEAF_PORT
    service = one(overlay, "Service", "nats-leaf")["spec"]
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(LEAF_PORT, "leaf")]
    assert LEAF_PORT not in {p["port"] for p in one(overlay, "Service", "nats")["spec"]["ports"]}


@pytest.mark.unit
def test_production_leaf_links_are_tls_with_a_certificate_for_the_leaf_address() -> None:
    tls = settings(block(leafnodes("production"), "tls"))
    sts = one("production", "StatefulSet", "nats")
    c = container(sts, "nats")
    secrets = {mounted_file(sts, c, tls[f])[1] for f in ("cert_file", "key_file")}
    assert len(secrets) == 1, "certificate and key from one Secret"
    certs = [x for x in objects("production", "Certificate").values() if x["spec"]["secretName"] in secrets]
    assert len(certs) == 1, "cert-manager keeps the leaf certificate"
    spec = certs[0]["spec"]
    assert spec["issuerRef"]["kind"] == "ClusterIssuer" and "server auth" in spec["usages"]
    assert spec["dnsNames"] and not any(n.startswith("nats.") or n == "nats" for n in spec["dnsNames"]), (
        "the leaf certificate names the public leaf address only"
    )
    client_secret = mounted_file(
        sts, c, settings(block(nats_conf("production"), "tls", top_level=True))["cert_file"]
    )
    assert secrets != {client_secret[1]}, "not the in-cluster client certificate"


def connection_kinds(auth: str) -> dict[str, str]:
    """User name (from its comment line) -> its `allowed_connection_types`."""
    return dict(re.findall(r"# ([\w-]+): .*\n.*allowed_connection_types: \[([^\]]*)\]", auth))


@pytest.mark.unit
def test_auth_admits_leaf_links_only_from_site_link_identities(tmp_path: Path) -> None:
    identities = region(DEMO_AGENCIES, sites=[SITE])
    kinds = connection_kinds(authorization_from_seeds(identities, tmp_path))
    assert set(kinds) == {i.name for i in identities}, "every user is limited to one kind of connection"
    assert {n for n, k in kinds.items() if "LEAFNODE" in k} == {f"site-link-{SITE}"}
    assert all(k == '"STANDARD"' for n, k in kinds.items() if n != f"site-link-{SITE}")
    # The dev overlay links no site: nobody may link a leaf to it.
    shipped = base64.b64decode(one_prefixed("dev", "Secret", AUTH_SECRET)["data"]["auth.conf"]).decode()
    dev = connection_kinds(shipped)
    assert dev and set(dev.values()) == {'"STANDARD"'}, dev


# ---------------------------------------------------------------- the production config, running


def running_config(conf: str, work: Path, ports: dict[int, int]) -> Path:
    """The production nats.conf on loopback ports, its paths under `work`, with throwaway TLS files
    (the leaf certificate for `localhost`) and an auth.conf admitting a site."""
    for k8s, local in ports.items():
        conf = conf.replace(f'"0.0.0.0:{k8s}"', f'"127.0.0.1:{local}"')
    conf = conf.replace('"/data"', f'"{work / "js"}"').replace("/var/run/nats/", f"{work}/")
    for sub in sorted(set(re.findall(rf'"{re.escape(TLS_ROOT)}([\w-]+)/', conf))):
        write_tls_dir(work / "tls" / sub, ("localhost", "nats", "*.nats-headless"))
    (work / "auth.conf").write_text(
        authorization_from_seeds(region(DEMO_AGENCIES, sites=[SITE]), work / "seeds")
    )
    path = work / "nats.conf"
    path.write_text(conf.replace(TLS_ROOT, f"{work / 'tls'}/"))
    return path


@pytest.fixture
def region_node(tmp_path: Path) -> Iterator[tuple[Path, dict[int, int]]]:
    ports = {k: free_port() for k in (4222, 6222, 8222, LEAF_PORT)}
    conf = running_config(nats_conf("production"), tmp_path / "region", ports)
    env = {**os.environ, "POD_NAME": "nats-0", "NATS_ROUTE_ADVERTISE": "nats-0.nats-headless:6222"}
    log = tmp_path / "region" / "nats.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], env=env, stdout=out, stderr=out)
    try:
        wait_for(lambda: monitor(ports[8222], "varz") is not None, "the region node to start")
        yield tmp_path / "region", ports
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def monitor(port: int, page: str) -> dict[str, Any] | None:
    try:
        return dict(httpx.get(f"http://127.0.0.1:{port}/{page}", timeout=2).json())
    except httpx.TransportError:
        return None


def wait_for(ok: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not ok():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def site(work: Path, agency: str, port: int, seed: Path) -> SiteServer:
    return SiteServer(work, agency=agency, hub_urls=(f"nats-leaf://localhost:{port}",), link_seed=seed)


@pytest.mark.integration
async def test_the_running_region_takes_a_site_link_over_tls_and_refuses_every_other_identity(
    region_node: tuple[Path, dict[int, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, ports = region_node
    # The site's host trusts the region's CA (docs/leaf-sites.md); nothing else is configured for TLS.
    monkeypatch.setenv("SSL_CERT_FILE", str(work / "tls" / "leaf" / "ca.crt"))
    intake_key = public_key((work / "seeds" / "intake.nk").read_bytes().strip())
    impostor = site(tmp_path / "impostor", DEMO_AGENCIES[1], ports[LEAF_PORT], work / "seeds" / "intake.nk")
    linked = site(tmp_path / "site", SITE, ports[LEAF_PORT], work / "seeds" / f"site-link-{SITE}.nk")
    try:
        impostor.start()
        log = work / "nats.log"
        wait_for(lambda: f'authentication error - Nkey "{intake_key}"' in log.read_text(), "intake refused")
        linked.start()
        wait_for(lambda: (monitor(ports[8222], "leafz") or {}).get("leafnodes") == 1, "the site's link")
        leafs = (monitor(ports[8222], "leafz") or {})["leafs"]
        assert [leaf["name"] for leaf in leafs] == [f"site-{SITE}"], (
            "the one leaf is the site, not the impostor"
        )
    finally:
        impostor.stop()
        linked.stop()
    # ...and a site's link is no client: it cannot open an ordinary connection.
    url = f"tls://localhost:{ports[4222]}"
    bus.register(url, work / "seeds")
    with pytest.raises(nats.errors.Error):
        await bus.connect(
            url, f"site-link-{SITE}", ca_file=work / "tls" / "client" / "ca.crt", allow_reconnect=False
        )
