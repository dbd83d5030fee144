"""What is reachable from where: one public entry (the Ingress in Kubernetes, the proxy in compose) that
serves the console at `/` and each service's API under `/api/<service>/`, and a NetworkPolicy graph in
which nothing else is open. Everything is read from the rendered overlays and the compose files."""

from __future__ import annotations

import re

import pytest

from shared import runtime
from tests.support.deploy import (
    COMPOSE_FILE,
    DEPLOY,
    OVERLAYS,
    ROOT,
    Doc,
    compose,
    compose_peerline_services,
    objects,
    pod_spec,
    render,
    selects,
    workloads,
)

CONSOLE = "console"
HTTP_PORTS = dict(runtime.HTTP_PORTS)
METRICS_PORTS = dict(runtime.METRICS_PORTS)
BACKENDS = sorted(set(HTTP_PORTS) - {CONSOLE})
INGRESS_NS, MONITORING_NS = "ns:ingress-nginx", "ns:monitoring"
LEAF_PORT = 7422  # agency sites' leaf nodes (docs/leaf-sites.md): the one port open to anyone
ROUTE = re.compile(r"""@\w+\.(?:get|post|put|patch|delete)\(\s*"(/[^"]*)\"""")


def routes(service: str) -> list[str]:
    """Every path a service's code declares (each role's routes among them), with sample parameters."""
    found = {m for p in (ROOT / "services" / service).rglob("*.py") for m in ROUTE.findall(p.read_text())}
    assert found, f"no routes found in services/{service}"
    return sorted(re.sub(r"\{[^}]+\}", "x-1", p) for p in found)


# ---------------------------------------------------------------- Kubernetes: the Ingress


def ingress_routes(overlay: str) -> list[tuple[str, str, str, str, str | None]]:
    """(host, path, pathType, service:port-name, rewrite-target) of every Ingress rule."""
    found = []
    for ing in objects(overlay, "Ingress").values():
        rewrite = (ing["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/rewrite-target")
        assert "defaultBackend" not in ing["spec"], "a default backend would expose a service to any path"
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                svc = p["backend"]["service"]
                found.append(
                    (rule["host"], p["path"], p["pathType"], f"{svc['name']}:{svc['port']['name']}", rewrite)
                )
    return found


def through_ingress(overlay: str, path: str) -> tuple[str, str]:
    """Where ingress-nginx sends `path`: (service:port, path the backend sees). Regex paths first, longest
    first, each matched at the start (as ingress-nginx does), then plain prefixes."""
    rules = ingress_routes(overlay)
    regex = sorted((r for r in rules if r[2] == "ImplementationSpecific"), key=lambda r: -len(r[1]))
    for _, pattern, _, backend, rewrite in regex:
        if m := re.match(pattern, path):
            return backend, re.sub(r"\$(\d)", lambda g: m.group(int(g[1])), rewrite or path)
    prefixes = sorted((r for r in rules if r[2] == "Prefix"), key=lambda r: -len(r[1]))
    for _, prefix, _, backend, _ in prefixes:
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return backend, path
    pytest.fail(f"{overlay}: nothing routes {path}")


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_api_is_reachable_through_the_one_entry(overlay: str) -> None:
    hosts = {r[0] for r in ingress_routes(overlay)}
    assert len(hosts) == 1, f"{overlay}: one public host, got {hosts}"
    for service in BACKENDS:
        for path in routes(service):
            assert through_ingress(overlay, f"/api/{service}{path}") == (f"{service}:http", path), path
    for path in ["/", *routes(CONSOLE)]:
        assert through_ingress(overlay, path) == ("console:http", path), path
    backends = {r[3] for r in ingress_routes(overlay)}
    assert backends == {f"{s}:http" for s in [*BACKENDS, CONSOLE]}, f"{overlay}: the entry reaches {backends}"


@pytest.mark.unit
def test_production_entry_is_tls_from_cert_manager() -> None:
    certificates = {c["spec"]["secretName"]: c for c in objects("production", "Certificate").values()}
    for name, ing in objects("production", "Ingress").items():
        tls = ing["spec"].get("tls") or []
        assert tls, f"{name}: no TLS"
        hosts = {r["host"] for r in ing["spec"]["rules"]}
        for entry in tls:
            assert set(entry["hosts"]) == hosts, name
            cert = certificates.get(entry["secretName"])
            assert cert, f"{name}: no cert-manager Certificate keeps {entry['secretName']}"
            assert hosts <= set(cert["spec"]["dnsNames"]), name
        assert ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    console = next(
        d for d in render("production") if d["kind"] == "Deployment" and d["metadata"]["name"] == CONSOLE
    )
    env = {e["name"]: e.get("value") for e in pod_spec(console)["containers"][0]["env"]}
    assert env["PEERLINE_PUBLIC_URL"] == f"https://{hosts.pop()}", "the console must know its public address"


def container_port(overlay: str, selector: Doc, target: int | str) -> int:
    """The container port a Service's `targetPort` names, on the pods it selects."""
    for w in workloads(overlay):
        if selects(selector, w["spec"]["template"]["metadata"]["labels"]):
            for p in (p for c in pod_spec(w)["containers"] for p in c.get("ports", [])):
                if target in (p["containerPort"], p.get("name")):
                    return int(p["containerPort"])
    pytest.fail(f"{overlay}: no pod serves {target}")


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nothing_else_is_exposed(overlay: str) -> None:
    """One Service may leave the cluster, in production only: `nats-leaf`, the agency sites' leaf port."""
    exposed = {}
    for name, svc in objects(overlay, "Service").items():
        kind = svc["spec"].get("type", "ClusterIP")
        assert kind in ("ClusterIP", "LoadBalancer"), f"{overlay}: Service {name} is a {kind}"
        assert not svc["spec"].get("externalIPs"), name
        if kind == "LoadBalancer":
            exposed[name] = {
                (p["port"], container_port(overlay, svc["spec"]["selector"], p["targetPort"]))
                for p in svc["spec"]["ports"]
            }
    expected = {"nats-leaf": {(LEAF_PORT, LEAF_PORT)}} if overlay == "production" else {}
    assert exposed == expected, f"{overlay}: exposed {exposed}"
    leaf = objects(overlay, "Service")["nats-leaf"]
    assert selects(leaf["spec"]["selector"], pods(overlay)["nats"]), "nats-leaf reaches the NATS nodes"
    for w in workloads(overlay):
        spec = pod_spec(w)
        assert not spec.get("hostNetwork"), w["metadata"]["name"]
        ports = [p for c in spec["containers"] for p in c.get("ports", [])]
        assert not any("hostPort" in p for p in ports), f"{overlay}: {w['metadata']['name']} uses a hostPort"


# ---------------------------------------------------------------- Kubernetes: the NetworkPolicy graph


def pods(overlay: str) -> dict[str, dict[str, str]]:
    """Workload name -> its pods' labels."""
    return {w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in workloads(overlay)}


def peer_names(overlay: str, peer: Doc) -> set[str]:
    if "ipBlock" in peer:
        return {"anyone"}
    ns = peer.get("namespaceSelector")
    if ns is not None:
        name = (ns.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
        assert "podSelector" not in peer, "a namespace+pod peer: extend this test"
        return {f"ns:{name}" if name else "anyone"}
    return {f"pod:{w}" for w, labels in pods(overlay).items() if selects(peer["podSelector"], labels)}


def allowed(overlay: str, labels: dict[str, str], port: int) -> set[str]:
    """Who may open `port` on pods with `labels`: `pod:<workload>`, `ns:<namespace>` or `anyone`."""
    found: set[str] = set()
    for policy in objects(overlay, "NetworkPolicy").values():
        if not selects(policy["spec"]["podSelector"] or {}, labels):
            continue
        for rule in policy["spec"].get("ingress") or []:
            if rule.get("ports") and port not in {p["port"] for p in rule["ports"]}:
                continue
            found |= (
                {"anyone"}
                if "from" not in rule
                else set().union(*(peer_names(overlay, p) for p in rule["from"]))
            )
    return found


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_graph(overlay: str) -> None:
    labels = pods(overlay)
    bus_clients = {f"pod:{w}" for w, lab in labels.items() if lab.get("peerline.io/nats-client") == "true"}
    assert bus_clients == {f"pod:{s}" for s in BACKENDS} | {"pod:peerline-bootstrap"}
    for service in [*BACKENDS, CONSOLE]:
        mine = labels[service]
        http = allowed(overlay, mine, HTTP_PORTS[service])
        expected = {INGRESS_NS} if service == CONSOLE else {INGRESS_NS, f"pod:{CONSOLE}"}
        assert http == expected, f"{overlay}/{service}: HTTP port open to {http}"
        assert allowed(overlay, mine, METRICS_PORTS[service]) == {MONITORING_NS}, service
        assert allowed(overlay, mine, 22) == set(), f"{overlay}/{service}: a port it does not serve is open"
    nats = labels["nats"]
    assert allowed(overlay, nats, 4222) == bus_clients, "the bus: its clients only"
    assert allowed(overlay, nats, 6222) <= {f"pod:{w}" for w in labels if w == "nats"}, "routes: nats only"
    assert allowed(overlay, nats, LEAF_PORT) == {"anyone"}, "agency sites are remote: the leaf port is open"
    for name, policy in objects(overlay, "NetworkPolicy").items():
        for rule in policy["spec"].get("ingress") or []:
            peers = set().union(*(peer_names(overlay, p) for p in rule.get("from", [])))
            assert rule.get("from") and rule.get("ports"), f"{overlay}: {name} opens every port or to anyone"
            if "anyone" in peers:  # from outside the cluster: the NATS nodes' leaf port, nothing else
                ports = {(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]}
                assert ports == {(LEAF_PORT, "TCP")}, f"{overlay}: {name} lets anyone reach {ports}"
                selector = policy["spec"]["podSelector"] or {}
                reached = {w for w, lab in labels.items() if selects(selector, lab)}
                assert reached == {"nats"}, f"{overlay}: {name} lets anyone reach {reached}"


# ---------------------------------------------------------------- docker-compose: the proxy


def caddy_routes() -> dict[str, str]:
    """`handle_path /api/<x>/*` -> upstream, and `handle` (everything else) under the key `/`."""
    text = (DEPLOY / "proxy" / "Caddyfile").read_text()
    found = dict(re.findall(r"handle_path (/api/\w+)/\*\s*\{\s*reverse_proxy (\S+)\s*\}", text))
    rest = re.findall(r"\bhandle\s*\{\s*reverse_proxy (\S+)\s*\}", text)
    assert len(rest) == 1, "one catch-all `handle` for the console"
    return found | {"/": rest[0]}


@pytest.mark.unit
def test_compose_has_one_entry_that_reaches_every_api() -> None:
    services = compose()["services"]
    proxy = services["proxy"]
    assert re.fullmatch(r"caddy:2\.\d+\.\d+-alpine@sha256:[0-9a-f]{64}", proxy["image"]), (
        "pin the proxy by digest"
    )
    assert [str(p) for p in proxy["ports"]] == ["127.0.0.1:8080:8080"]
    conf = [str(v) for v in proxy["volumes"]]
    assert "./deploy/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in conf
    assert proxy["depends_on"] == {CONSOLE: {"condition": "service_healthy"}}
    upstreams = caddy_routes()
    assert upstreams == {f"/api/{s}": f"{s}:{HTTP_PORTS[s]}" for s in BACKENDS} | {
        "/": f"console:{HTTP_PORTS[CONSOLE]}"
    }
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"proxy", "nats", "jaeger"}, f"published: {published} (nats, Jaeger: developer tools)"
    for name in compose_peerline_services():
        assert not services[name].get("ports"), name
    assert "http://127.0.0.1:8080/api/<service>/" in COMPOSE_FILE.read_text()
