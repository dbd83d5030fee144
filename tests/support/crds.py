"""JSON schemas for the custom resources the overlays use (CloudNativePG, External Secrets, the
Prometheus operator), which kubernetes-validate does not know. Vendored by hand from each project's API
reference, and only the fields Peerline sets: an unknown or misspelt field is an error, as in strict
mode. Extend a schema when a manifest needs a new field (check the operator's API reference first)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

Schema = dict[str, Any]
STR: Schema = {"type": "string", "minLength": 1}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
LOOSE: Schema = {"type": "object"}  # a core Kubernetes type, checked by Kubernetes itself
STR_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}


def obj(required: tuple[str, ...] = (), **props: Schema) -> Schema:
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": props}


def enum(*values: str) -> Schema:
    return {"enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items, "minItems": 1}


NAME_REF = obj(("name",), name=STR)
KEY_REF = obj(("name", "key"), name=STR, key=STR)
ENCRYPTED = obj(compression=enum("gzip", "bzip2", "snappy"), encryption=enum("AES256", "aws:kms"))

CNPG_CLUSTER = obj(
    ("instances", "storage"),
    instances=INT,
    imageName=STR,
    primaryUpdateStrategy=enum("unsupervised", "supervised"),
    minSyncReplicas=INT,
    maxSyncReplicas=INT,
    inheritedMetadata=obj(labels=STR_MAP, annotations=STR_MAP),
    topologySpreadConstraints=array(LOOSE),
    affinity=obj(
        enablePodAntiAffinity=BOOL, topologyKey=STR, podAntiAffinityType=enum("preferred", "required")
    ),
    priorityClassName=STR,
    storage=obj(("size",), size=STR, storageClass=STR),
    walStorage=obj(("size",), size=STR, storageClass=STR),
    resources=LOOSE,
    certificates=obj(serverTLSSecret=STR, serverCASecret=STR, clientCASecret=STR, replicationTLSSecret=STR),
    enableSuperuserAccess=BOOL,
    postgresql=obj(parameters=STR_MAP, pg_hba={"type": "array", "items": {"type": "string"}}),
    bootstrap=obj(
        initdb=obj(database=STR, owner=STR, secret=NAME_REF, dataChecksums=BOOL, postInitSQL=array(STR))
    ),
    managed=obj(
        roles=array(
            obj(("name",), name=STR, ensure=enum("present", "absent"), login=BOOL, passwordSecret=NAME_REF)
        )
    ),
    backup=obj(
        retentionPolicy={"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
        barmanObjectStore=obj(
            ("destinationPath",),
            destinationPath=STR,
            endpointURL=STR,
            s3Credentials=obj(
                ("accessKeyId", "secretAccessKey"), accessKeyId=KEY_REF, secretAccessKey=KEY_REF
            ),
            wal=ENCRYPTED,
            data=ENCRYPTED,
        ),
    ),
)
CNPG_DATABASE = obj(
    ("cluster", "name", "owner"),
    cluster=NAME_REF,
    name=STR,
    owner=STR,
    ensure=enum("present", "absent"),
    databaseReclaimPolicy=enum("retain", "delete"),
)
CNPG_SCHEDULED_BACKUP = obj(
    ("schedule", "cluster"),
    # six fields: seconds first (CloudNativePG's cron syntax)
    schedule={"type": "string", "pattern": r"^\S+( \S+){5}$"},
    immediate=BOOL,
    backupOwnerReference=enum("none", "self", "cluster"),
    method=enum("barmanObjectStore", "volumeSnapshot", "plugin"),
    cluster=NAME_REF,
)
EXTERNAL_SECRET = obj(
    ("secretStoreRef", "target", "data"),
    refreshInterval=STR,
    secretStoreRef=obj(("name", "kind"), name=STR, kind=enum("SecretStore", "ClusterSecretStore")),
    target=obj(
        ("name",),
        name=STR,
        creationPolicy=enum("Owner", "Orphan", "Merge", "None"),
        deletionPolicy=enum("Delete", "Merge", "Retain"),
    ),
    data=array(
        obj(
            ("secretKey", "remoteRef"),
            secretKey=STR,
            remoteRef=obj(("key",), key=STR, property=STR, version=STR),
        )
    ),
)
SELECTOR = obj(("matchLabels",), matchLabels=STR_MAP)
ENDPOINT = obj(("port",), port=STR, path=STR, interval=STR, scrapeTimeout=STR)
SERVICE_MONITOR = obj(("selector", "endpoints"), selector=SELECTOR, endpoints=array(ENDPOINT))
POD_MONITOR = obj(("selector", "podMetricsEndpoints"), selector=SELECTOR, podMetricsEndpoints=array(ENDPOINT))
PROMETHEUS_RULE = obj(
    ("groups",),
    groups=array(
        obj(
            ("name", "rules"),
            name=STR,
            rules=array(
                obj(
                    ("alert", "expr", "labels", "annotations"),
                    alert=STR,
                    expr=STR,
                    labels=STR_MAP,
                    annotations=STR_MAP,
                    **{"for": STR},
                )
            ),
        )
    ),
)

SPECS: dict[tuple[str, str], Schema] = {
    ("postgresql.cnpg.io/v1", "Cluster"): CNPG_CLUSTER,
    ("postgresql.cnpg.io/v1", "Database"): CNPG_DATABASE,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): CNPG_SCHEDULED_BACKUP,
    ("external-secrets.io/v1", "ExternalSecret"): EXTERNAL_SECRET,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}
METADATA = obj(("name",), name=STR, namespace=STR, labels=STR_MAP, annotations=STR_MAP)


def known(doc: dict[str, Any]) -> bool:
    return (doc["apiVersion"], doc["kind"]) in SPECS


def errors(doc: dict[str, Any]) -> list[str]:
    """What is wrong with a custom resource: unknown or missing fields, wrong types and values."""
    schema = obj(
        ("apiVersion", "kind", "metadata", "spec"),
        apiVersion=STR,
        kind=STR,
        metadata=METADATA,
        spec=SPECS[(doc["apiVersion"], doc["kind"])],
    )
    found = Draft202012Validator(schema).iter_errors(doc)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in found]
