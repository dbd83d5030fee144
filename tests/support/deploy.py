"""Reading the deployment files: docker-compose.yml and the Kubernetes overlays rendered offline.

Rendering uses kustomize (`kubectl kustomize`, or a standalone `kustomize`); a missing renderer is a
failure, never a skip.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "production")
SEEDS_SECRET, AUTH_SECRET = "peerline-nats-seeds", "peerline-nats-auth"
CLIENT_LABEL = "peerline.io/nats-client"

Doc = dict[str, Any]


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


def compose_volume_mounts(svc: Doc) -> list[Doc]:
    """A compose service's volumes, each as the long syntax (`source`, `target`, `subpath`)."""
    mounts = []
    for v in svc.get("volumes", []):
        if isinstance(v, str):
            source, target = v.split(":")[:2]
            mounts.append({"source": source, "target": target, "subpath": None})
        else:
            subpath = v.get("volume", {}).get("subpath")
            mounts.append({"source": v["source"], "target": v["target"], "subpath": subpath})
    return mounts


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


def resolved_env(overlay: str, c: Doc) -> dict[str, str]:
    """What the container's environment will hold: envFrom ConfigMaps, then `env` with `$(VAR)`
    expanded as the kubelet does. A value from a Secret or the downward API reads `<from NAME>`."""
    values: dict[str, str] = {}
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            values.update(one(overlay, "ConfigMap", src["configMapRef"]["name"])["data"])
    for e in c.get("env", []):
        if "value" not in e:
            values[e["name"]] = f"<from {e['name']}>"
            continue
        values[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: values.get(m[1], m[0]), e["value"])
    return values


def volume_sources(volume: Doc) -> list[tuple[str, str, Doc]]:
    """(kind, name, source) for each Secret or ConfigMap a volume projects; kind `secret`/`configMap`."""
    found = []
    if "secret" in volume:
        found.append(("secret", volume["secret"]["secretName"], volume["secret"]))
    if "configMap" in volume:
        found.append(("configMap", volume["configMap"]["name"], volume["configMap"]))
    for source in volume.get("projected", {}).get("sources", []):
        for kind in ("secret", "configMap"):
            if kind in source:
                found.append((kind, source[kind]["name"], source[kind]))
    return found


def mounted_file(workload: Doc, c: Doc, path: str) -> tuple[str, str, str]:
    """(kind, object name, key) of the Secret or ConfigMap that puts `path` into container `c`."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    for mount in c.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        rel = path.removeprefix(prefix)
        sources = volume_sources(volumes[mount["name"]])
        for kind, name, source in sources:  # a source that names its files first
            items = {i["path"]: i["key"] for i in source.get("items", [])}
            if rel in items:
                return kind, name, items[rel]
        for kind, name, source in sources:  # then one that projects every key under its own name
            if not source.get("items"):
                return kind, name, rel
    pytest.fail(f"{workload['metadata']['name']}/{c['name']}: nothing mounts {path}")


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in match.items())


def unhashed(name: str) -> str:
    """`peerline-kek-8mfkhft7kb` -> `peerline-kek` (kustomize generator suffix: 10 of its hash alphabet,
    which has no vowels, so `peerline-db-escalation` stays whole)."""
    return re.sub(r"-[2456789bcdfghkmt]{10}$", "", name)


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
        for kind, name, source in volume_sources(v):
            if kind == "secret":
                refs.setdefault(name, set()).update(item["key"] for item in source.get("items", []))
    return refs


def seed_mounts(workload: Doc) -> list[set[str]]:
    """For each volume that takes keys of the seeds Secret: the keys it takes (empty: all of them)."""
    return [
        {item["key"] for item in source.get("items", [])}
        for v in pod_spec(workload).get("volumes", [])
        for kind, name, source in volume_sources(v)
        if kind == "secret" and unhashed(name) == SEEDS_SECRET
    ]
