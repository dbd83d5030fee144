"""The bus's trust model in what ships: the dev overlay's committed credentials, production TLS from
cert-manager, and the identity table of docs/bus.md. (tests/test_deploy.py checks the rest.)"""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import re
from types import ModuleType

import pytest

from shared.buscreds import authorization, public_key
from shared.buspolicy import region
from tests.support.deploy import (
    AUTH_SECRET,
    DEPLOY,
    ROOT,
    SEEDS_SECRET,
    Doc,
    container,
    mounted_file,
    objects,
    one,
    one_prefixed,
    resolved_env,
)
from tests.support.natsconf import block, settings

DEV_CREDS = DEPLOY / "overlays" / "dev" / "secrets" / "nats"


def dev_agencies() -> list[str]:
    return sorted(p.stem.removeprefix("cad-") for p in DEV_CREDS.glob("cad-*.nk"))


def nats_conf(overlay: str) -> tuple[Doc, Doc, str]:
    sts = one(overlay, "StatefulSet", "nats")
    c = container(sts, "nats")
    _, name, key = mounted_file(sts, c, c["command"][c["command"].index("--config") + 1])
    return sts, c, one(overlay, "ConfigMap", name)["data"][key]


def issued_by(overlay: str, secret: str) -> Doc:
    """The cert-manager Certificate that keeps `secret`."""
    found = [c for c in objects(overlay, "Certificate").values() if c["spec"]["secretName"] == secret]
    assert len(found) == 1, f"{overlay}: no Certificate keeps Secret {secret}"
    return found[0]


# ---------------------------------------------------------------- dev credentials


@pytest.mark.unit
def test_dev_auth_conf_is_rendered_from_the_committed_seeds_and_the_current_policy() -> None:
    agencies = dev_agencies()
    fix = "peerline bus credentials --dir deploy/overlays/dev/secrets/nats " + " ".join(
        f"--agency {a}" for a in agencies
    )
    identities = region(agencies)
    seeds = {p.stem: p for p in DEV_CREDS.glob("*.nk")}
    missing = sorted({i.name for i in identities} - set(seeds))
    assert not missing, f"no dev seed for {missing}; make them and re-render auth.conf:\n  {fix}"
    keys = {i.name: public_key(seeds[i.name].read_bytes().strip()) for i in identities}
    assert (DEV_CREDS / "auth.conf").read_text() == authorization(identities, keys), (
        "deploy/overlays/dev/secrets/nats/auth.conf is not what the current bus policy renders from the "
        f"committed seeds (an event, consumer or permission changed). Render it again:\n  {fix}"
    )
    extra = sorted(set(seeds) - set(keys))
    assert not extra, f"seeds of identities no shipped config admits (never harness, log-admin): {extra}"


@pytest.mark.unit
def test_dev_secrets_hold_the_committed_credentials() -> None:
    seeds = one_prefixed("dev", "Secret", SEEDS_SECRET)["data"]
    committed = {p.name: p.read_bytes() for p in DEV_CREDS.glob("*.nk")}
    assert {k: base64.b64decode(v) for k, v in seeds.items()} == committed
    auth = one_prefixed("dev", "Secret", AUTH_SECRET)["data"]
    assert base64.b64decode(auth["auth.conf"]) == (DEV_CREDS / "auth.conf").read_bytes()


# ---------------------------------------------------------------- production TLS


@pytest.mark.unit
def test_production_nats_serves_clients_over_tls_and_routes_over_mutual_tls() -> None:
    sts, c, conf = nats_conf("production")
    client = settings(block(conf, "tls", top_level=True))
    route = settings(block(block(conf, "cluster") or "", "tls"))
    assert client.get("cert_file") and client.get("key_file"), "no TLS for clients"
    assert route.get("verify") == "true" and route.get("ca_file"), "routes must verify each other"
    files = {f: client[f] for f in ("cert_file", "key_file")}
    files |= {f"route_{f}": route[f] for f in ("cert_file", "key_file", "ca_file")}
    secret_of = {f: mounted_file(sts, c, path)[1] for f, path in files.items()}
    assert secret_of["cert_file"] == secret_of["key_file"]
    assert len({secret_of[f"route_{f}"] for f in ("cert_file", "key_file", "ca_file")}) == 1
    client_cert = issued_by("production", secret_of["cert_file"])
    route_cert = issued_by("production", secret_of["route_cert_file"])
    # Clients reach tls://nats:4222 and check the name.
    intake = container(one("production", "Deployment", "intake"))
    host = resolved_env("production", intake)["PEERLINE_NATS_URL"]
    assert host == "tls://nats:4222" and "nats" in client_cert["spec"]["dnsNames"]
    # Routes: the route certificate names every route host, serves and dials.
    for host in re.findall(r"nats://([\w.-]+):6222", conf):
        assert any(fnmatch.fnmatch(host, n) for n in route_cert["spec"]["dnsNames"]), host
    assert {"server auth", "client auth"} <= set(route_cert["spec"]["usages"])
    # ...from a private CA that only this namespace's Issuer signs with: `verify` is authentication.
    ref = route_cert["spec"]["issuerRef"]
    assert ref["kind"] == "Issuer" and ref["name"] != client_cert["spec"]["issuerRef"]["name"]
    route_ca = one("production", "Issuer", ref["name"])["spec"]["ca"]["secretName"]
    root = issued_by("production", route_ca)
    assert root["spec"].get("isCA") is True
    assert "selfSigned" in one("production", "Issuer", root["spec"]["issuerRef"]["name"])["spec"]
    assert client_cert["spec"]["issuerRef"]["kind"] == "ClusterIssuer", "clients trust the region's CA"


@pytest.mark.unit
def test_production_postgres_serves_tls() -> None:
    cluster = one("production", "Cluster", "postgres")["spec"]
    secret = cluster["certificates"]["serverTLSSecret"]
    assert cluster["certificates"]["serverCASecret"] == secret, "the CA that signed it is in the same Secret"
    cert = issued_by("production", secret)
    assert cert["spec"]["issuerRef"]["kind"] == "ClusterIssuer", "the region's CA, which the services trust"
    host = one_prefixed("production", "ConfigMap", "peerline-config")["data"]["PG_HOST"]
    assert host in cert["spec"]["dnsNames"], "services connect to $(PG_HOST) with sslmode=verify-full"
    assert cluster["postgresql"]["parameters"]["ssl_min_protocol_version"] == "TLSv1.2"
    assert all(
        rule.startswith(("hostssl", "host all all all reject")) for rule in cluster["postgresql"]["pg_hba"]
    )


# ---------------------------------------------------------------- docs


def bus_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bus_table", ROOT / "docs" / "bus_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.unit
def test_bus_page_shows_what_the_policy_grants() -> None:
    table = bus_table()
    page = table.PAGE.read_text()
    assert table.rewrite(page) == page, (
        "docs/bus.md's identity table differs from shared.buspolicy. Regenerate it: python docs/bus_table.py"
    )
    for readme in (ROOT / "README.md", DEPLOY / "README.md"):
        assert "bus.md" in readme.read_text(), f"{readme.name} must link docs/bus.md"
