"""The custom resources use only fields their CRDs define, with allowed values.

kubeconform cannot check these offline (no CRD schemas here), so the documented fields are
written down below, taken from the CRDs these manifests were written against:

- KEDA v2.20.2: config/crd/bases/keda.sh_scaledobjects.yaml, keda.sh_triggerauthentications.yaml
  (v1alpha1), and the kafka scaler's metadata and auth parameters, pkg/scalers/kafka_scaler.go
  (`kafkaMetadata`, `keda:"name=..."` tags and their enums).
- Strimzi 0.50.1: packaging/install/cluster-operator/040-Crd-kafka.yaml,
  044-Crd-kafkauser.yaml, 045-Crd-kafkanodepool.yaml (v1); forbidden `spec.kafka.config`
  prefixes from api/.../kafka/KafkaClusterSpec.java FORBIDDEN_PREFIXES.
- CloudNativePG 1.29.2: config/crd/bases/postgresql.cnpg.io_clusters.yaml (v1).

Each set lists the fields at the levels these manifests touch (with their siblings, so a
neighbouring field can be used without editing this file); a path is dotted, `[]` marks list
items. Below a path in OPAQUE the CRD takes free-form content (Kafka broker config, a scaler's
metadata) or a core Kubernetes type (resources, topology spread), checked separately or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

Doc = dict[str, Any]

ALLOWED: dict[str, frozenset[str]] = {
    "keda.sh/v1alpha1/ScaledObject": frozenset(
        {
            "spec.scaleTargetRef.apiVersion",
            "spec.scaleTargetRef.kind",
            "spec.scaleTargetRef.name",
            "spec.scaleTargetRef.envSourceContainerName",
            "spec.pollingInterval",
            "spec.cooldownPeriod",
            "spec.initialCooldownPeriod",
            "spec.idleReplicaCount",
            "spec.minReplicaCount",
            "spec.maxReplicaCount",
            "spec.fallback",
            "spec.advanced.restoreToOriginalReplicaCount",
            "spec.advanced.horizontalPodAutoscalerConfig.name",
            *(
                f"spec.advanced.horizontalPodAutoscalerConfig.behavior.{way}.{field}"
                for way in ("scaleUp", "scaleDown")
                for field in (
                    "stabilizationWindowSeconds",
                    "selectPolicy",
                    "tolerance",
                    "policies[].type",
                    "policies[].value",
                    "policies[].periodSeconds",
                )
            ),
            "spec.triggers[].type",
            "spec.triggers[].name",
            "spec.triggers[].metadata",
            "spec.triggers[].metricType",
            "spec.triggers[].useCachedMetrics",
            "spec.triggers[].authenticationRef.name",
            "spec.triggers[].authenticationRef.kind",
        }
    ),
    "keda.sh/v1alpha1/TriggerAuthentication": frozenset(
        {
            "spec.env[].parameter",
            "spec.env[].name",
            "spec.env[].containerName",
            "spec.secretTargetRef[].parameter",
            "spec.secretTargetRef[].name",
            "spec.secretTargetRef[].key",
            "spec.filePath",
        }
    ),
    "kafka.strimzi.io/v1/Kafka": frozenset(
        {
            "spec.kafka.version",
            "spec.kafka.metadataVersion",
            "spec.kafka.listeners[].name",
            "spec.kafka.listeners[].port",
            "spec.kafka.listeners[].type",
            "spec.kafka.listeners[].tls",
            "spec.kafka.listeners[].authentication.type",
            "spec.kafka.listeners[].configuration",
            "spec.kafka.listeners[].networkPolicyPeers",
            "spec.kafka.config",
            "spec.kafka.authorization.type",
            "spec.kafka.authorization.superUsers",
            "spec.kafka.rack",
            "spec.kafka.template",
            "spec.entityOperator.userOperator",
            "spec.entityOperator.userOperator.watchedNamespace",
            "spec.entityOperator.userOperator.reconciliationIntervalMs",
            "spec.entityOperator.topicOperator",
            "spec.clusterCa",
            "spec.clientsCa",
            "spec.cruiseControl",
            "spec.kafkaExporter",
            "spec.maintenanceTimeWindows",
        }
    ),
    "kafka.strimzi.io/v1/KafkaNodePool": frozenset(
        {
            "spec.replicas",
            "spec.roles",
            "spec.storage.type",
            "spec.storage.size",
            "spec.storage.class",
            "spec.storage.deleteClaim",
            *(
                f"spec.storage.volumes[].{field}"
                for field in (
                    "id",
                    "type",
                    "size",
                    "class",
                    "deleteClaim",
                    "kraftMetadata",
                    "selector",
                    "sizeLimit",
                    "volumeAttributesClass",
                )
            ),
            "spec.resources",
            "spec.jvmOptions",
            "spec.template.pod.topologySpreadConstraints",
            "spec.template.pod.affinity",
            "spec.template.pod.tolerations",
            "spec.template.pod.priorityClassName",
        }
    ),
    "kafka.strimzi.io/v1/KafkaUser": frozenset(
        {
            "spec.authentication.type",
            "spec.authentication.password",
            "spec.authorization.type",
            "spec.authorization.acls[].type",
            "spec.authorization.acls[].host",
            "spec.authorization.acls[].operations",
            "spec.authorization.acls[].resource.type",
            "spec.authorization.acls[].resource.name",
            "spec.authorization.acls[].resource.patternType",
            "spec.quotas",
        }
    ),
    "postgresql.cnpg.io/v1/Cluster": frozenset(
        {
            "spec.instances",
            "spec.imageName",
            "spec.bootstrap.initdb.database",
            "spec.bootstrap.initdb.owner",
            "spec.bootstrap.initdb.secret.name",
            "spec.storage.size",
            "spec.storage.storageClass",
            "spec.postgresql.parameters",
            "spec.postgresql.pg_hba",
            *(
                f"spec.postgresql.synchronous.{field}"
                for field in (
                    "method",
                    "number",
                    "dataDurability",
                    "failoverQuorum",
                    "maxStandbyNamesFromCluster",
                    "standbyNamesPre",
                    "standbyNamesPost",
                )
            ),
            "spec.affinity.enablePodAntiAffinity",
            "spec.affinity.topologyKey",
            "spec.affinity.podAntiAffinityType",
            "spec.certificates",
            "spec.enablePDB",
            "spec.primaryUpdateStrategy",
            "spec.resources",
            "spec.monitoring",
        }
    ),
}
# Free-form or core-typed below these paths (see the module docstring).
OPAQUE = (
    "spec.kafka.config",
    "spec.triggers[].metadata",
    "spec.resources",
    "spec.template.pod.topologySpreadConstraints",
    "spec.postgresql.parameters",
    "spec.entityOperator.userOperator",
)
REQUIRED: dict[str, tuple[str, ...]] = {
    "keda.sh/v1alpha1/ScaledObject": ("spec.scaleTargetRef.name", "spec.triggers[].type"),
    "kafka.strimzi.io/v1/Kafka": ("spec.kafka.listeners[].name", "spec.kafka.listeners[].port"),
    "kafka.strimzi.io/v1/KafkaNodePool": ("spec.replicas", "spec.storage.type", "spec.roles"),
    "postgresql.cnpg.io/v1/Cluster": ("spec.instances",),
}
ENUMS: dict[str, frozenset[Any]] = {
    "spec.triggers[].authenticationRef.kind": frozenset(
        {"TriggerAuthentication", "ClusterTriggerAuthentication"}
    ),
    "spec.kafka.listeners[].type": frozenset(
        {"internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"}
    ),
    "spec.kafka.listeners[].authentication.type": frozenset({"tls", "scram-sha-512", "custom"}),
    "spec.kafka.authorization.type": frozenset({"simple", "custom"}),
    "spec.roles": frozenset({"controller", "broker"}),
    "spec.storage.type": frozenset({"ephemeral", "persistent-claim", "jbod"}),
    "spec.storage.volumes[].type": frozenset({"ephemeral", "persistent-claim"}),
    "spec.storage.volumes[].kraftMetadata": frozenset({"shared"}),
    "spec.authentication.type": frozenset({"tls", "tls-external", "scram-sha-512"}),
    "spec.authorization.acls[].resource.type": frozenset(
        {"topic", "group", "cluster", "transactionalId"}
    ),
    "spec.authorization.acls[].resource.patternType": frozenset({"literal", "prefix"}),
    "spec.authorization.acls[].operations": frozenset(
        {
            "Read",
            "Write",
            "Create",
            "Delete",
            "Alter",
            "Describe",
            "ClusterAction",
            "AlterConfigs",
            "DescribeConfigs",
            "IdempotentWrite",
            "All",
        }
    ),
    "spec.postgresql.synchronous.method": frozenset({"any", "first"}),
    "spec.postgresql.synchronous.dataDurability": frozenset({"required", "preferred"}),
}
# KEDA kafka scaler (kafka_scaler.go v2.20.2): trigger metadata keys (`order=triggerMetadata`,
# `<name>FromEnv` for `resolvedEnv`) and auth parameters (`order=authParams`).
KAFKA_TRIGGER_METADATA = frozenset(
    {
        "bootstrapServers",
        "bootstrapServersFromEnv",
        "consumerGroup",
        "consumerGroupFromEnv",
        "topic",
        "topicFromEnv",
        "partitionLimitation",
        "lagThreshold",
        "activationLagThreshold",
        "offsetResetPolicy",
        "allowIdleConsumers",
        "excludePersistentLag",
        "scaleToZeroOnInvalidOffset",
        "limitToPartitionsWithLag",
        "ensureEvenDistributionOfPartitions",
        "version",
        "tls",
        "unsafeSsl",
        "sasl",
        "saslTokenProvider",
        "awsRegion",
    }
)
KAFKA_AUTH_PARAMS = frozenset(
    {"tls", "ca", "cert", "key", "keyPassword", "sasl", "username", "password"}
    | {"saslTokenProvider", "scopes", "oauthTokenEndpointUri", "oauthExtensions"}
)
KAFKA_METADATA_ENUMS = {
    "offsetResetPolicy": {"latest", "earliest"},
    "tls": {"enable", "disable"},
    "sasl": {"none", "plaintext", "scram_sha256", "scram_sha512", "oauthbearer", "gssapi"},
    "allowIdleConsumers": {"true", "false"},
    "limitToPartitionsWithLag": {"true", "false"},
}
# Strimzi refuses these in spec.kafka.config (it sets them itself).
FORBIDDEN_KAFKA_CONFIG = [
    "listeners",
    "advertised.",
    "broker.",
    "listener.",
    "host.name",
    "port",
    "inter.broker.listener.name",
    "sasl.",
    "ssl.",
    "security.",
    "password.",
    "log.dir",
    "zookeeper.connect",
    "authorizer.",
    "super.user",
    "node.id",
    "process.roles",
    "controller.",
    "metadata.log.dir",
]


def _key(doc: Doc) -> str:
    return f"{doc['apiVersion']}/{doc['kind']}"


def _paths(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every field under `node`, not descending below OPAQUE paths."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path, value
            if path not in OPAQUE:
                yield from _paths(value, path)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield from _paths(item, f"{prefix}[]")


def _custom(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if not d["apiVersion"].startswith(("v1", "apps/", "batch/", "policy/"))]


def test_every_custom_kind_is_known(k8s_builds: dict[str, list[Doc]]) -> None:
    kinds = {_key(d) for d in _custom(k8s_builds["cluster"])}
    assert kinds == set(ALLOWED), "a new kind or API version: add its CRD's fields here"


@pytest.mark.parametrize("build", ["autoscale", "cluster"])
def test_custom_resources_use_documented_fields(
    build: str, k8s_builds: dict[str, list[Doc]]
) -> None:
    for doc in _custom(k8s_builds[build]):
        allowed = ALLOWED[_key(doc)]
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}, where
        paths = dict(_paths(doc["spec"], "spec"))
        # A path is fine if it, or a parent of a leaf, is in the CRD's set.
        for path, value in paths.items():
            if isinstance(value, (dict, list)) and path not in allowed:
                assert any(a.startswith((path + ".", path + "[]")) for a in allowed), (
                    f"{where}: {path} is not a field of its CRD"
                )
            elif not isinstance(value, (dict, list)):
                assert path in allowed, f"{where}: {path} is not a field of its CRD"
        for path in REQUIRED.get(_key(doc), ()):
            assert path in paths, f"{where}: required {path} missing"
        for path, value in paths.items():
            if path in ENUMS:
                values = value if isinstance(value, list) else [value]
                assert set(values) <= ENUMS[path], f"{where}: {path}={value}"


def test_keda_kafka_triggers_use_scaler_parameters(k8s_builds: dict[str, list[Doc]]) -> None:
    docs = k8s_builds["autoscale"]
    auths = {d["metadata"]["name"]: d for d in docs if d["kind"] == "TriggerAuthentication"}
    for so in (d for d in docs if d["kind"] == "ScaledObject"):
        for trigger in so["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            metadata = trigger["metadata"]
            assert all(isinstance(v, str) for v in metadata.values()), "metadata values are strings"
            assert set(metadata) <= KAFKA_TRIGGER_METADATA, set(metadata) - KAFKA_TRIGGER_METADATA
            for key, allowed in KAFKA_METADATA_ENUMS.items():
                assert metadata.get(key, next(iter(allowed))) in allowed, key
            # the scaler refuses these combinations (kafkaMetadata.Validate)
            assert not (
                metadata.get("allowIdleConsumers")
                == "true"
                == metadata.get("limitToPartitionsWithLag")
            )
            if metadata.get("limitToPartitionsWithLag") == "true":
                assert metadata.get("topic"), "limitToPartitionsWithLag needs a topic"
            assert int(metadata["lagThreshold"]) > 0
            auth = auths[trigger["authenticationRef"]["name"]]
            params = [*auth["spec"].get("secretTargetRef", []), *auth["spec"].get("env", [])]
            names = {p["parameter"] for p in params}
            assert names <= KAFKA_AUTH_PARAMS, names - KAFKA_AUTH_PARAMS
            # SCRAM needs a username and a password (kafkaMetadata.parseSASL)
            if metadata.get("sasl", "").startswith("scram"):
                assert {"username", "password"} <= names


def test_strimzi_kafka_config_is_allowed(k8s_builds: dict[str, list[Doc]]) -> None:
    (kafka,) = [d for d in k8s_builds["cluster"] if d["kind"] == "Kafka"]
    for key in kafka["spec"]["kafka"]["config"]:
        assert not any(key.startswith(p) for p in FORBIDDEN_KAFKA_CONFIG), key
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["name"].isalnum()
        assert len(listener["name"]) <= 11
