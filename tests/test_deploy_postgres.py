"""Production PostgreSQL: a CloudNativePG cluster that survives a lost zone and a lost disk (three
instances, backups to object storage with point-in-time recovery), in which every service has its own
role and database and only intake reaches the vault. Read from the rendered production overlay."""

from __future__ import annotations

import copy
import re

import pytest

from shared import runtime
from tests.support import crds
from tests.support.deploy import objects, one, one_prefixed

ROLES = sorted([*(s for s in runtime.HTTP_PORTS if s != "console"), "vault"])
ZONE = "topology.kubernetes.io/zone"


def cluster() -> dict:
    return one("production", "Cluster", "postgres")


@pytest.mark.unit
def test_three_instances_one_per_zone_with_a_synchronous_standby() -> None:
    spec = cluster()["spec"]
    assert spec["instances"] == 3
    spread = [t for t in spec["topologySpreadConstraints"] if t["topologyKey"] == ZONE]
    assert spread and spread[0]["whenUnsatisfiable"] == "DoNotSchedule" and spread[0]["maxSkew"] == 1
    assert spread[0]["labelSelector"]["matchLabels"] == {"cnpg.io/cluster": "postgres"}
    assert spec["minSyncReplicas"] >= 1, "an acknowledged write must be on two instances"
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert re.fullmatch(
        r"ghcr\.io/cloudnative-pg/postgresql:15\.\d+\S*@sha256:[0-9a-f]{64}", spec["imageName"]
    )
    assert spec["priorityClassName"] in objects("production", "PriorityClass")


@pytest.mark.unit
def test_backups_to_object_storage_with_retention_every_night() -> None:
    spec = cluster()["spec"]["backup"]
    store = spec["barmanObjectStore"]
    assert store["destinationPath"].startswith(("s3://", "gs://", "https://"))
    assert store["wal"]["encryption"] and store["data"]["encryption"], "backups leave the region encrypted"
    assert re.fullmatch(r"[1-9]\d*[dwm]", spec["retentionPolicy"])
    backups = list(objects("production", "ScheduledBackup").values())
    assert len(backups) == 1 and backups[0]["spec"]["cluster"]["name"] == "postgres"
    assert backups[0]["spec"]["method"] == "barmanObjectStore" and backups[0]["spec"]["immediate"] is True


@pytest.mark.unit
def test_one_role_and_database_per_service_and_the_vault_apart() -> None:
    spec = cluster()["spec"]
    roles = {r["name"]: r for r in spec["managed"]["roles"]}
    assert sorted(roles) == ROLES
    for name, role in roles.items():
        assert role["login"] is True and role["passwordSecret"]["name"] == f"peerline-db-{name}", name
    initdb = spec["bootstrap"]["initdb"]
    databases = {d["spec"]["name"]: d["spec"] for d in objects("production", "Database").values()}
    databases[initdb["database"]] = {"owner": initdb["owner"], "cluster": {"name": "postgres"}}
    assert sorted(databases) == ROLES
    for name, db in databases.items():
        assert db["owner"] == name and db["cluster"]["name"] == "postgres", name
    # each role reaches only the database of its own name; nobody logs in as superuser
    assert spec["postgresql"]["pg_hba"] == [
        "hostssl sameuser all all scram-sha-256",
        "host all all all reject",
    ]
    assert spec["enableSuperuserAccess"] is False
    config = one_prefixed("production", "ConfigMap", "peerline-config")["data"]
    assert config["PG_HOST"] == "postgres-rw", "the services write to the primary"


@pytest.mark.unit
def test_the_instances_are_reachable_by_the_services_only() -> None:
    labels = cluster()["spec"]["inheritedMetadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "postgres", "the services' egress rules select this label"
    policy = one("production", "NetworkPolicy", "postgres")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"cnpg.io/cluster": "postgres"}
    on_5432 = [f for r in policy["ingress"] if any(p["port"] == 5432 for p in r["ports"]) for f in r["from"]]
    clients = [f["podSelector"]["matchLabels"] for f in on_5432 if "podSelector" in f]
    assert {"peerline.io/postgres-client": "true"} in clients
    namespaces = {
        f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for f in on_5432
        if "namespaceSelector" in f
    }
    assert namespaces == {"cnpg-system"}, "the operator; no other namespace"


@pytest.mark.unit
def test_the_vendored_schemas_reject_what_the_operator_would() -> None:
    doc = copy.deepcopy(cluster())
    assert crds.errors(doc) == []
    doc["spec"]["instance"] = 3  # misspelt
    doc["spec"]["backup"]["retentionPolicy"] = "30 days"
    found = crds.errors(doc)
    assert any("instance" in e for e in found) and any("retentionPolicy" in e for e in found), found
