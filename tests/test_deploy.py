"""Deployment files: Dockerfile, docker-compose.yml, NATS configs, and the Kubernetes overlays.

The overlays are rendered offline with kustomize (`kubectl kustomize`, or a standalone `kustomize`)
and every rendered object is validated against the Kubernetes OpenAPI schemas with
`kubernetes-validate` in strict mode (unknown fields are errors). Neither needs a cluster.
A missing renderer, validator or nats-server is a failure, never a skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared import runtime
from tests.support import crds
from tests.support.deploy import (
    AUTH_SECRET,
    CLIENT_LABEL,
    DEPLOY,
    OVERLAYS,
    ROOT,
    SEEDS_SECRET,
    Doc,
    compose,
    compose_peerline_services,
    compose_volume_mounts,
    container,
    env_of,
    mounted_file,
    objects,
    one,
    one_prefixed,
    pod_spec,
    referenced_secrets,
    render,
    resolved_env,
    seed_mounts,
    selects,
    unhashed,
    workloads,
)
from tests.support.natsconf import check as check_nats_config
from tests.support.natsconf import inline_users, jetstream_block, without_comments

K8S_VERSION = "1.32.0"

# The deployment contract: every service, its metrics/health port and its HTTP port (as `peerline up`
# runs them). Who reaches which port from where: tests/test_deploy_reach.py. intake alone holds the KEK
# and scales its HTTP side; the console is what people open.
METRICS_PORTS = dict(runtime.METRICS_PORTS)
HTTP_PORTS = dict(runtime.HTTP_PORTS)
HTTP_SERVICE, HTTP_PORT = "intake", 8081
CONSOLE = "console"
VAULT = "vault"  # the identity vault's database and role: intake alone holds it
API_CLIENT = {"peerline.io/api-client": "true"}  # the console's pods: the services' HTTP APIs let them in
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - containers must listen on their pod address
# Secrets the base references by name; production expects them to exist, dev generates them.
SECRETS = {
    AUTH_SECRET,
    SEEDS_SECRET,
    "peerline-kek",
    "peerline-jwt-public-key",
    "peerline-notify-keys",
    *(f"peerline-db-{role}" for role in [*runtime.HTTP_PORTS, VAULT] if role != CONSOLE),
}
DEV_SECRETS = {"peerline-postgres"}  # the dev overlay's one PostgreSQL instance: its superuser
OPTIONAL = {"peerline-kek-previous"}  # the KEK rotation slot: exists only during a rotation
PROVISIONER = "provisioner"  # the bus identity of `peerline bootstrap`
SEED_DIR = "/etc/peerline/nats"


# ---------------------------------------------------------------- helpers


def code_services() -> set[str]:
    """Every package under services/ (a directory holding an __init__.py)."""
    base = ROOT / "services"
    if not base.is_dir():
        return set()
    return {p.name for p in base.iterdir() if (p / "__init__.py").is_file()}


def all_services() -> list[str]:
    return sorted(code_services() | set(METRICS_PORTS))


def backends() -> list[str]:
    """The services behind the console: each with its own database and bus identity."""
    return [s for s in all_services() if s != CONSOLE]


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


CERT_MANAGER = "cert-manager.io/v1"
CERTIFICATE_FIELDS = {
    "secretName", "dnsNames", "commonName", "usages", "privateKey", "issuerRef", "isCA", "duration",
    "renewBefore", "subject", "secretTemplate",
}  # fmt: skip
USAGES = {"server auth", "client auth", "digital signature", "key encipherment", "cert sign"}
ISSUER_TYPES = {"selfSigned", "ca", "acme", "vault", "venafi"}


def cert_manager_errors(doc: Doc) -> list[str]:
    """The fields cert-manager requires of a Certificate or an Issuer, and no unknown ones."""
    spec, kind = doc.get("spec") or {}, doc["kind"]
    if kind == "Certificate":
        ref = spec.get("issuerRef") or {}
        return [
            *(f"unknown field spec.{f}" for f in sorted(set(spec) - CERTIFICATE_FIELDS)),
            *([] if isinstance(spec.get("secretName"), str) else ["spec.secretName is required"]),
            *([] if spec.get("dnsNames") or spec.get("commonName") else ["no dnsNames or commonName"]),
            *([] if ref.get("name") else ["spec.issuerRef.name is required"]),
            *([] if ref.get("kind") in ("Issuer", "ClusterIssuer") else ["issuerRef.kind: *Issuer"]),
            *([] if ref.get("group", "cert-manager.io") == "cert-manager.io" else ["issuerRef.group"]),
            *(f"unknown usage {u!r}" for u in set(spec.get("usages", [])) - USAGES),
        ]
    if kind in ("Issuer", "ClusterIssuer"):
        types = set(spec) & ISSUER_TYPES
        errors = [f"unknown field spec.{f}" for f in sorted(set(spec) - ISSUER_TYPES)]
        if len(types) != 1:
            errors.append(f"exactly one issuer type of {sorted(ISSUER_TYPES)}, got {sorted(types)}")
        if "ca" in types and not spec["ca"].get("secretName"):
            errors.append("spec.ca.secretName is required")
        return errors
    return [f"no check for cert-manager kind {kind}"]


def nats_identity(workload: Doc) -> str | None:
    """The bus identity a workload connects as: its service's name, the provisioner for the Job."""
    if workload["spec"]["template"]["metadata"]["labels"].get(CLIENT_LABEL) != "true":
        return None
    return PROVISIONER if workload["kind"] == "Job" else workload["metadata"]["name"]


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
    creds = services.get("bus-credentials")
    assert creds, "no one-shot bus-credentials service"
    assert str(creds.get("restart", "no")) == "no", "bus-credentials runs once"
    deps = services["nats"].get("depends_on") or {}
    assert deps.get("bus-credentials", {}).get("condition") == "service_completed_successfully", (
        "nats must start only after its auth.conf is rendered"
    )
    for name, svc in compose_peerline_services().items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on must use the long form with conditions"
        if name == CONSOLE:  # no bus, no database: it waits for the services it calls
            assert {d: c["condition"] for d, c in deps.items()} == dict.fromkeys(
                backends(), "service_healthy"
            )
            continue
        assert deps.get("bootstrap", {}).get("condition") == "service_completed_successfully", name
        assert deps.get("postgres", {}).get("condition") == "service_healthy", name


@pytest.mark.unit
def test_compose_service_settings() -> None:
    services = compose()["services"]
    init_sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    databases = set()
    for name, svc in compose_peerline_services().items():
        env = svc["environment"]
        ports = [str(p) for p in svc.get("ports", [])]
        assert (
            env["PEERLINE_HTTP_HOST"] == ALL_INTERFACES and int(env["PEERLINE_HTTP_PORT"]) == HTTP_PORTS[name]
        )
        if name == CONSOLE:
            check_compose_console(svc)
            continue
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
        assert not ports, f"{name} publishes ports: only the proxy is an entry (tests/test_deploy_reach.py)"
    assert len(databases) == len(backends()), "services share a database"
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


def check_compose_console(svc: Doc) -> None:
    """The console: every service's HTTP API by its compose name, no bus, no database, no secret."""
    env = svc["environment"]
    assert not svc.get("ports"), "the console is reached through the proxy, never published itself"
    assert int(env["PEERLINE_METRICS_PORT"]) == METRICS_PORTS[CONSOLE]
    for name in backends():
        assert env[f"PEERLINE_{name.upper()}_URL"] == f"http://{name}:{HTTP_PORTS[name]}", name
    assert not {"PEERLINE_NATS_URL", "PEERLINE_DATABASE_URL", "PEERLINE_KEK_FILE"} & set(env), env
    assert not svc.get("secrets") and not compose_volume_mounts(svc), "the console holds no secret"
    assert svc.get("healthcheck", {}).get("test"), "console: no healthcheck"


@pytest.mark.unit
def test_compose_nats_runs_durable_jetstream(tmp_path: Path) -> None:
    nats = compose()["services"]["nats"]
    image = nats["image"]
    assert (
        re.fullmatch(r"nats:2\.(\d+)(\.\d+)?-alpine", image) and int(image.split(".")[1].split("-")[0]) >= 11
    )
    mounts = compose_volume_mounts(nats)
    conf_mount = [m for m in mounts if m["source"] == "./deploy/nats/nats.conf"]
    assert conf_mount, "nats must mount ./deploy/nats/nats.conf"
    conf_path = conf_mount[0]["target"]
    assert conf_path in nats["command"], "nats must be started with the mounted config"
    conf = (DEPLOY / "nats" / "nats.conf").read_text()
    js = jetstream_block(conf)
    assert js.get("sync_interval") == "always", "JetStream must fsync every write"
    assert js.get("domain") == "region", "JetStream domain must be `region`"
    assert js.get("max_file_store"), "max_file_store must be set (JetStream otherwise takes 75% of free disk)"
    assert not inline_users(conf), f"users belong in auth.conf, not nats.conf: {inline_users(conf)}"
    assert re.search(r'^include "auth.conf"', conf, re.MULTILINE), "nats.conf must include auth.conf"
    auth = [m for m in mounts if m["subpath"] == "auth.conf"]
    assert len(auth) == 1 and auth[0]["target"] == str(Path(conf_path).parent / "auth.conf"), (
        f"auth.conf must be mounted beside {conf_path} (include paths are relative to the file): {auth}"
    )
    assert [m["subpath"] for m in mounts if m["source"] == auth[0]["source"]] == ["auth.conf"], (
        "nats must see auth.conf only, never a seed"
    )
    check_nats_config(conf, tmp_path)


@pytest.mark.unit
def test_compose_bus_credentials_and_one_seed_per_client() -> None:
    services = compose()["services"]
    creds = services["bus-credentials"]
    cmd = creds["command"]
    assert cmd[:3] == ["peerline", "bus", "credentials"], cmd
    directory = cmd[cmd.index("--dir") + 1]
    whole = [m for m in compose_volume_mounts(creds) if m["target"] == directory and not m["subpath"]]
    assert whole, f"bus-credentials must write into a named volume at {directory}"
    volume = whole[0]["source"]
    assert volume in compose()["volumes"], f"{volume} must be a named volume"
    clients = {name: compose_peerline_services()[name] for name in backends()}
    clients[PROVISIONER] = services["bootstrap"]
    for identity, svc in clients.items():
        seeds = [m for m in compose_volume_mounts(svc) if m["source"] == volume]
        assert [m["subpath"] for m in seeds] == [f"{identity}.nk"], (
            f"{identity}: must mount exactly its own seed from {volume}, got {seeds}"
        )
        env = svc.get("environment", {})
        cmd = svc["command"]
        seed_file = env.get("PEERLINE_NATS_SEED_FILE") or cmd[cmd.index("--seed-file") + 1]
        assert seed_file == seeds[0]["target"], f"{identity}: connects with {seed_file}, not its mounted seed"
        assert "NATS_PASSWORD" not in str(svc) and "@" not in env.get("PEERLINE_NATS_URL", ""), identity
    holders = {id(svc) for svc in clients.values()} | {id(creds), id(services["nats"])}
    for name, svc in services.items():
        if id(svc) in holders:
            continue
        assert all(m["source"] != volume for m in compose_volume_mounts(svc)), (
            f"{name} must not see the bus credentials"
        )


@pytest.mark.unit
def test_postgres_init_creates_one_role_and_database_per_service() -> None:
    """Each service and the vault: a login role, a database it owns, and no CONNECT for anyone else."""
    sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    roles = re.findall(r"^CREATE ROLE (\w+) LOGIN PASSWORD '([^']+)'", sql, re.MULTILINE)
    owned = dict(re.findall(r"^CREATE DATABASE (\w+) OWNER (\w+);", sql, re.MULTILINE))
    assert sorted(owned) == sorted([*backends(), VAULT]) and all(owned[db] == db for db in owned)
    assert sorted(r for r, _ in roles) == sorted(owned)
    for db in owned:
        assert f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;" in sql, db
    dev = {u.username: u.password for u in map(make_url, compose_database_urls())}
    assert dev == dict(roles), "docker-compose's URLs must carry the passwords the init script sets"


def compose_database_urls() -> list[str]:
    envs = [s["environment"] for s in compose_peerline_services().values()]
    return [e[k] for e in envs for k in ("PEERLINE_DATABASE_URL", "PEERLINE_VAULT_DATABASE_URL") if k in e]


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
        if doc["apiVersion"] == CERT_MANAGER:  # a CRD: no schema offline, checked by hand instead
            errors += [f"{doc['kind']}/{doc['metadata']['name']}: {e}" for e in cert_manager_errors(doc)]
            continue
        if crds.known(doc):  # other CRDs: against the schemas vendored in tests/support/crds.py
            errors += [f"{doc['kind']}/{doc['metadata']['name']}: {e}" for e in crds.errors(doc)]
            continue
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
        # liveness never asks NATS or the database (shared/service.py); readiness does
        paths = {"startupProbe": "/livez", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
        for probe, path in paths.items():
            assert c[probe]["httpGet"]["path"] == path, f"{name}: {probe}"
            assert probe_port(c, probe) == port, f"{name}: {probe} must hit the metrics port {port}"
        svc_ports = {p["port"] for p in svc["spec"]["ports"]}
        assert svc_ports == {port, HTTP_PORTS[name]}, f"{name}: Service ports {svc_ports}"
        env = env_of(c)
        assert env["PEERLINE_HTTP_HOST"]["value"] == ALL_INTERFACES, f"{name}: HTTP on the pod address"
        assert int(env["PEERLINE_HTTP_PORT"]["value"]) == HTTP_PORTS[name], name


# Production runs two replicas of these: a hot standby where one active consumer holds the projection's
# lock (shared/leader.py), and the HTTP-facing ones. notify's deliveries are not behind the lock.
STANDBY = {"matching", "escalation", "tracking", "wellness"}
AUTOSCALED = {HTTP_SERVICE, CONSOLE}
ZONE = "topology.kubernetes.io/zone"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_standbys_and_disruption_budgets(overlay: str) -> None:
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]
        for h in objects(overlay, "HorizontalPodAutoscaler").values()
    }
    for name in all_services():
        spec = one(overlay, "Deployment", name)["spec"]
        pdb = one(overlay, "PodDisruptionBudget", name)["spec"]
        if overlay == "dev" or name not in STANDBY | AUTOSCALED:
            assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate", f"{overlay}/{name}"
            assert pdb == {**pdb, "maxUnavailable": 1}, f"{overlay}/{name}: a drain may take the one replica"
            assert name not in autoscalers
            continue
        rolling = spec["strategy"]
        assert rolling["type"] == "RollingUpdate" and rolling["rollingUpdate"]["maxUnavailable"] == 0, name
        assert pdb.get("minAvailable") == 1 and pdb.get("maxUnavailable") is None, name
        spread = pod_spec(one(overlay, "Deployment", name)).get("topologySpreadConstraints", [])
        zonal = [s for s in spread if s["topologyKey"] == ZONE and s["whenUnsatisfiable"] == "DoNotSchedule"]
        assert zonal and "app.kubernetes.io/name" in zonal[0]["matchLabelKeys"], f"{name}: replicas by zone"
        if name in AUTOSCALED:  # the autoscaler owns the count: an apply must not reset it
            assert "replicas" not in spec, name
            hpa = autoscalers[name]
            assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"], name
        else:
            assert spec["replicas"] == 2 and name not in autoscalers, name
    assert set(autoscalers) == (AUTOSCALED if overlay == "production" else set())


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_come_first_and_leave_a_lost_node_within_30_seconds(overlay: str) -> None:
    priority = objects(overlay, "PriorityClass")
    for w in workloads(overlay):
        spec, name = pod_spec(w), w["metadata"]["name"]
        if w["kind"] == "Job":
            continue
        assert spec.get("priorityClassName") in priority, f"{overlay}/{name}: no PriorityClass"
        if w["kind"] != "Deployment":
            continue  # StatefulSet pods keep their identity: Kubernetes never replaces them early
        waits = {t["key"]: t.get("tolerationSeconds") for t in spec.get("tolerations", [])}
        for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            assert waits.get(taint) is not None and waits[taint] <= 30, f"{overlay}/{name}: {taint}"
    assert all(p["value"] > 0 and not p.get("globalDefault") for p in priority.values())


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
        expected = {METRICS_PORTS[name], HTTP_PORTS[name]}
        assert ingress_ports == expected, f"{overlay}/{name}: ingress ports {ingress_ports} != {expected}"
        for rule in spec.get("ingress", []):
            assert rule.get("ports"), f"{overlay}/{name}: an ingress rule without ports opens every port"
        egress = {
            (p["port"], peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"))
            for rule in spec["egress"]
            for p in rule["ports"]
            for peer in rule["to"]
        }
        if name == CONSOLE:  # the services' HTTP APIs and nothing else; never the bus or a database
            assert egress == {(HTTP_PORTS[b], b) for b in backends()}, f"{overlay}/console: egress {egress}"
            assert labels.get("peerline.io/api-client") == "true"
            assert not {"peerline.io/nats-client", "peerline.io/postgres-client"} & set(labels)
            continue
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

    conf_path = c["command"][c["command"].index("--config") + 1]
    kind, name, key = mounted_file(sts, c, conf_path)
    assert kind == "configMap", f"{conf_path} must come from a ConfigMap"
    conf = one(overlay, "ConfigMap", name)["data"][key]
    js = jetstream_block(conf)
    assert js.get("sync_interval") == "always", "JetStream must fsync every write"
    assert js.get("domain") == "region"
    assert js.get("store_dir") == "/data"
    volume = numeric(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"])
    assert js.get("max_file_store"), "max_file_store must be set (JetStream otherwise takes 75% of free disk)"
    assert numeric(js["max_file_store"].replace("GB", "Gi")) < volume, "max_file_store must fit the volume"
    headless_name = headless["metadata"]["name"]
    for i in range(replicas):
        assert f"nats://nats-{i}.{headless_name}:6222" in conf, f"no cluster route to nats-{i}"
    # Who may connect is only the rendered auth.conf from its Secret, mounted beside nats.conf.
    assert not inline_users(conf), f"users belong in auth.conf, not nats.conf: {inline_users(conf)}"
    assert re.search(r'^include "auth.conf"', conf, re.MULTILINE), "nats.conf must include auth.conf"
    auth_kind, auth_name, auth_key = mounted_file(sts, c, str(Path(conf_path).parent / "auth.conf"))
    assert (auth_kind, unhashed(auth_name), auth_key) == ("secret", AUTH_SECRET, "auth.conf")
    # Every $VARIABLE the config uses must come from the container's environment.
    variables = set(re.findall(r"\$(\w+)", without_comments(conf)))
    missing = variables - set(env_of(c))
    assert not missing, f"nats.conf uses ${sorted(missing)} that the container does not define"
    env = {v: "x" for v in variables} | {"POD_NAME": "nats-0"}
    env["NATS_ROUTE_ADVERTISE"] = "nats-0.nats-headless:6222"
    check_nats_config(conf, tmp_path, env)
    # Monitoring: probes and the monitoring namespace only, never through the client Service.
    client_ports = {p["port"] for p in one(overlay, "Service", "nats")["spec"]["ports"]}
    assert client_ports == {4222}, f"the client Service exposes {client_ports}"


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
    env = resolved_env(overlay, c)
    assert nats_identity(job) == PROVISIONER
    assert env["PEERLINE_NATS_URL"] == bus_url(overlay), env["PEERLINE_NATS_URL"]
    kind, name, key = mounted_file(job, c, env["PEERLINE_NATS_SEED_FILE"])
    assert (kind, unhashed(name), key) == ("secret", SEEDS_SECRET, f"{PROVISIONER}.nk")


def database_host(overlay: str) -> str:
    """dev: the one in-cluster PostgreSQL; production: the CloudNativePG cluster's read-write Service."""
    return "postgres-rw" if overlay == "production" else "postgres"


def bus_url(overlay: str) -> str:
    """Where every client finds the bus: no credential in it; TLS in production."""
    return "tls://nats:4222" if overlay == "production" else "nats://nats:4222"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_connect_to_their_own_database_and_nats_identity(overlay: str) -> None:
    for name in backends():
        dep = one(overlay, "Deployment", name)
        c = container(dep)
        env = resolved_env(overlay, c)
        url_vars = {name: "PEERLINE_DATABASE_URL"}
        if name == HTTP_SERVICE:
            url_vars[VAULT] = "PEERLINE_VAULT_DATABASE_URL"
        else:
            assert "PEERLINE_VAULT_DATABASE_URL" not in env, f"{name}: only intake reaches the vault"
        urls = {role: make_url(env[var]) for role, var in url_vars.items()}
        order = [e["name"] for e in c["env"]]  # $(VAR) expands only variables defined earlier
        for role, db in urls.items():
            # its own role and database, on the overlay's server, with the password of its own Secret
            where = (db.drivername, db.host, db.port, db.database, db.username)
            assert where == ("postgresql+psycopg", database_host(overlay), 5432, role, role), where
            password = str(db.password).removeprefix("<from ").removesuffix(">")
            ref = env_of(c)[password]["valueFrom"]["secretKeyRef"]
            assert (unhashed(ref["name"]), ref["key"]) == (f"peerline-db-{role}", "password"), ref
            assert order.index(password) < order.index(url_vars[role])
        assert env["PEERLINE_NATS_URL"] == bus_url(overlay), env["PEERLINE_NATS_URL"]
        assert env.get("PEERLINE_NATS_USER", name) == name, f"{name} must connect as itself"
        kind, secret, key = mounted_file(dep, c, env["PEERLINE_NATS_SEED_FILE"])
        assert (kind, unhashed(secret), key) == ("secret", SEEDS_SECRET, f"{name}.nk")
        assert env.get("PEERLINE_JWT_ISSUER") and env.get("PEERLINE_JWT_PUBLIC_KEY_FILE")
        if overlay == "production":
            # TLS to both: the server's name and certificate checked against the mounted region CA.
            for db in urls.values():
                assert db.query.get("sslmode") == "verify-full", f"{name}: {db.query}"
                cas = (str(db.query["sslrootcert"]), env["PEERLINE_NATS_CA_FILE"])
                for ca in cas:
                    assert mounted_file(dep, c, ca)[2] == "ca.crt", f"{name}: {ca} is not the mounted CA"
        if name == HTTP_SERVICE:
            assert env["PEERLINE_HTTP_HOST"] == ALL_INTERFACES
            assert int(env["PEERLINE_HTTP_PORT"]) == HTTP_PORT
    if overlay == "production":
        config = one_prefixed(overlay, "ConfigMap", "peerline-config")["data"]
        assert config.get("PEERLINE_OTLP_ENDPOINT", "").startswith("http")


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_nats_client_mounts_exactly_its_own_seed(overlay: str) -> None:
    clients = {}
    for w in workloads(overlay):
        identity, mounts = nats_identity(w), seed_mounts(w)
        wname = f"{w['kind']}/{w['metadata']['name']}"
        if identity is None:
            assert not mounts, f"{overlay}/{wname} is no bus client but mounts seeds"
            continue
        clients[identity] = w
        assert mounts == [{f"{identity}.nk"}], f"{overlay}/{wname}: mounts seeds {mounts}, not its own"
    assert set(clients) == {*backends(), PROVISIONER}, sorted(clients)
    text = str(render(overlay))
    for stale in ("NATS_PASSWORD", "peerline-nats-credentials"):
        assert stale not in text, f"{overlay}: {stale} is left from the password users"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_by_name_and_only_dev_generates_them(overlay: str) -> None:
    secrets = objects(overlay, "Secret")
    issued = {c["spec"]["secretName"] for c in objects(overlay, "Certificate").values()}
    referenced: dict[str, set[str]] = {}
    users: dict[str, set[str]] = {}
    for w in workloads(overlay):
        for name, keys in referenced_secrets(w).items():
            referenced.setdefault(name, set()).update(keys)
            users.setdefault(unhashed(name), set()).add(w["metadata"]["name"])
    names = {unhashed(n) for n in referenced} - issued - OPTIONAL  # cert-manager makes the issued ones
    assert names == SECRETS | (DEV_SECRETS if overlay == "dev" else set()), f"{overlay}: {sorted(referenced)}"
    for held_by_intake in ("peerline-kek", *OPTIONAL, f"peerline-db-{VAULT}"):
        assert users[held_by_intake] == {HTTP_SERVICE}, f"{overlay}: only intake may hold {held_by_intake}"
    if overlay == "production":
        assert not secrets, f"production must not generate Secrets (externally managed): {sorted(secrets)}"
        return
    for name, keys in referenced.items():
        if name in OPTIONAL:
            continue
        assert name in secrets, f"{overlay}: Secret {name} is referenced but not generated"
        missing = keys - set(secrets[name].get("data", {}))
        assert not missing, f"{overlay}: Secret {name} lacks keys {missing}"


@pytest.mark.unit
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_dev_overlay_and_compose_write_demo_policies(overlay: str) -> None:
    flag = "PEERLINE_SEED_DEMO_POLICIES"
    for w in workloads(overlay):
        env = {e["name"]: e.get("value") for c in pod_spec(w)["containers"] for e in c.get("env", [])}
        wanted = "true" if overlay == "dev" and w["metadata"]["name"] == "escalation" else None
        assert env.get(flag) == wanted, f"{overlay}/{w['metadata']['name']}: {flag}={env.get(flag)}"
    assert compose()["services"]["escalation"]["environment"][flag] == "true"
