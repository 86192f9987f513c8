"""The autoscaling and cluster components agree with the code and the base manifests: KEDA
watches each consumer group on the topics it really consumes (from streams/topology.py), never
asks for more replicas than partitions, logs in as the pods do, and the Strimzi and
CloudNativePG resources produce exactly the Secrets, names and settings the pods use."""

from __future__ import annotations

from typing import Any

from streams.kafka.acls import consumer_groups
from streams.settings import Settings
from streams.topology import STAGES, build_topology

Doc = dict[str, Any]


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _config(docs: list[Doc]) -> dict[str, str]:
    data: dict[str, str] = _one(docs, "ConfigMap", "newsstream-config")["data"]
    return data


def _settings(docs: list[Doc]) -> Settings:
    """Settings as the pods get them from the ConfigMap (no files are read here)."""
    data = _config(docs)
    fields = {
        name: data[f"NEWSSTREAM_{name.upper()}"]
        for name in ("consumer_group", "topic_partitions")
        if f"NEWSSTREAM_{name.upper()}" in data
    }
    return Settings(**fields)  # type: ignore[arg-type]


def _container(deployment: Doc) -> Doc:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _volume(deployment: Doc, name: str) -> Doc:
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == name]
    return volume


def test_each_consumer_deployment_has_one_scaledobject(k8s_builds: dict[str, list[Doc]]) -> None:
    docs = k8s_builds["autoscale"]
    targets = [d["spec"]["scaleTargetRef"] for d in docs if d["kind"] == "ScaledObject"]
    assert sorted(t["name"] for t in targets) == ["newsstream-sink", "newsstream-worker"]
    # the crawler keeps a fixed count: its frontier lag is politeness, which replicas cannot
    # shorten; several replicas, no more than the frontier partitions (the rest would idle)
    replicas = _one(docs, "Deployment", "newsstream-crawler")["spec"]["replicas"]
    assert 2 <= replicas <= build_topology(_settings(docs), ())["news.crawl.frontier"].partitions
    for target in targets:
        deployment = _one(docs, "Deployment", target["name"])
        assert target.get("kind", "Deployment") == "Deployment"
        assert target["envSourceContainerName"] == _container(deployment)["name"]


def test_scaledobjects_watch_the_groups_and_topics_the_code_consumes(
    k8s_builds: dict[str, list[Doc]],
) -> None:
    docs = k8s_builds["autoscale"]
    groups = consumer_groups(_settings(docs))
    # The worker's trigger names no topic: KEDA then sums every topic the group commits on,
    # which are the stage table's inputs whatever the topology becomes.
    (worker,) = _one(docs, "ScaledObject", "newsstream-worker")["spec"]["triggers"]
    assert worker["metadata"]["consumerGroup"] == groups["worker"]
    assert "topic" not in worker["metadata"]
    assert {stage.input for stage in STAGES} <= set(build_topology(Settings(), ()).topics)
    # The sink's topics are fixed: one trigger each, limited to partitions with lag.
    sink = _one(docs, "ScaledObject", "newsstream-sink")["spec"]["triggers"]
    assert {t["metadata"]["consumerGroup"] for t in sink} == {groups["sink"]}
    sink_topics = {t.name for t in build_topology(Settings(), ()) if "sink" in t.consumers}
    assert sorted(t["metadata"]["topic"] for t in sink) == sorted(sink_topics)
    for trigger in [worker, *sink]:
        assert trigger["metadata"]["bootstrapServersFromEnv"] in _config(docs)
        assert trigger["metadata"]["offsetResetPolicy"] == "earliest"  # as the consumers


def test_replicas_are_capped_by_partitions_and_left_to_keda(
    k8s_builds: dict[str, list[Doc]],
) -> None:
    docs = k8s_builds["autoscale"]
    partitions = _settings(docs).topic_partitions
    for so in (d for d in docs if d["kind"] == "ScaledObject"):
        spec = so["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] == partitions
        for trigger in spec["triggers"]:
            assert trigger["metadata"]["allowIdleConsumers"] == "false"
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        # long scale-down window: each membership change is a stop-the-world rebalance
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 900
        deployment = _one(docs, "Deployment", spec["scaleTargetRef"]["name"])
        assert "replicas" not in deployment["spec"], "a fixed replicas fights the HPA"
    # The PDB and the topology spread assume two workers at least.
    assert _one(docs, "ScaledObject", "newsstream-worker")["spec"]["minReplicaCount"] >= 2
    base_worker = _one(k8s_builds["base"], "Deployment", "newsstream-worker")
    assert base_worker["spec"]["replicas"] >= 2  # without KEDA the base keeps fixed counts


def test_autoscaled_workers_have_no_static_membership(k8s_builds: dict[str, list[Doc]]) -> None:
    """group.instance.id would keep a removed pod's partitions unassigned until its session
    times out; nothing may set it on the worker (env, args or the ConfigMap)."""
    assert not [name for name in Settings.model_fields if "instance" in name], (
        "a static-membership setting exists: keep it unset in deploy/k8s and say so here"
    )
    docs = k8s_builds["cluster"]
    worker = _one(docs, "Deployment", "newsstream-worker")
    text = str(worker["spec"]["template"]).lower() + str(_config(docs)).lower()
    assert "instance" not in text.replace("app.kubernetes.io/instance", "")


def test_trigger_authentication_uses_the_pods_secrets(k8s_builds: dict[str, list[Doc]]) -> None:
    docs = k8s_builds["autoscale"]
    for so in (d for d in docs if d["kind"] == "ScaledObject"):
        deployment = _one(docs, "Deployment", so["spec"]["scaleTargetRef"]["name"])
        container = _container(deployment)
        for trigger in so["spec"]["triggers"]:
            assert trigger["metadata"]["sasl"] == "scram_sha512"
            assert trigger["metadata"]["tls"] == "enable"
            auth = _one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
            refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
            user = _volume(deployment, "kafka-user")["secret"]
            ca = _volume(deployment, "kafka-ca")["secret"]
            assert (refs["password"]["name"], refs["password"]["key"]) == (
                user["secretName"],
                "password",
            )
            assert (refs["ca"]["name"], refs["ca"]["key"]) == (ca["secretName"], "ca.crt")
            (env,) = auth["spec"]["env"]
            assert env["parameter"] == "username"
            assert env["containerName"] == container["name"]
            names = {e["name"] for e in container["env"]}
            assert env["name"] == "NEWSSTREAM_KAFKA_SASL_USERNAME"
            assert env["name"] in names


def test_cluster_kafka_matches_the_pods(k8s_builds: dict[str, list[Doc]]) -> None:
    docs = k8s_builds["cluster"]
    (kafka,) = [d for d in docs if d["kind"] == "Kafka"]
    name, namespace = kafka["metadata"]["name"], kafka["metadata"]["namespace"]
    (pool,) = [d for d in docs if d["kind"] == "KafkaNodePool"]
    users = [d for d in docs if d["kind"] == "KafkaUser"]
    for labelled in [pool, *users]:
        assert labelled["metadata"]["labels"]["strimzi.io/cluster"] == name
    assert pool["spec"]["replicas"] == 3
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert config["transaction.state.log.min.isr"] == 2

    data = _config(docs)
    host, _, port = data["NEWSSTREAM_KAFKA_BOOTSTRAP"].rpartition(":")
    assert host.startswith(f"{name}-kafka-bootstrap.{namespace}.svc")
    (listener,) = [lsn for lsn in kafka["spec"]["kafka"]["listeners"] if lsn["port"] == int(port)]
    assert listener["tls"] is True
    assert listener["authentication"]["type"] == "scram-sha-512"
    assert data["NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["NEWSSTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert int(data["NEWSSTREAM_TOPIC_REPLICATION_FACTOR"]) == config["default.replication.factor"]
    assert int(data["NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS"]) == config["min.insync.replicas"]
    known = {f"NEWSSTREAM_{field.upper()}" for field in Settings.model_fields}
    assert set(data) <= known, set(data) - known
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        assert _volume(deployment, "kafka-ca")["secret"]["secretName"] == f"{name}-cluster-ca-cert"
        user = _volume(deployment, "kafka-user")["secret"]["secretName"]
        assert user in {u["metadata"]["name"] for u in users}
        # everything in one namespace: the operators' Secrets are where the pods mount them
        assert deployment["metadata"]["namespace"] == namespace


def test_cluster_postgres_feeds_the_sink(k8s_builds: dict[str, list[Doc]]) -> None:
    docs = k8s_builds["cluster"]
    (cluster,) = [d for d in docs if d["kind"] == "Cluster"]
    name = cluster["metadata"]["name"]
    assert cluster["spec"]["instances"] == 3
    assert "hostnossl all all all reject" in cluster["spec"]["postgresql"]["pg_hba"]
    assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1
    assert not [d for d in docs if d["kind"] == "Secret"], "the DSN template is not applied"

    sink = _one(docs, "Deployment", "newsstream-sink")
    container = _container(sink)
    env = {e["name"]: e.get("value") for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "postgres"]
    volume = _volume(sink, "postgres")
    assert "secret" not in volume
    files = {
        item["path"]: (source["secret"]["name"], item["key"])
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    # CloudNativePG's Secrets: <cluster>-app (key uri) and <cluster>-ca (key ca.crt)
    assert files == {"dsn": (f"{name}-app", "uri"), "ca.crt": (f"{name}-ca", "ca.crt")}
    assert env["NEWSSTREAM_POSTGRES_DSN_FILE"] == f"{mount['mountPath']}/dsn"
    assert env["PGSSLMODE"] == "verify-full"
    assert env["PGSSLROOTCERT"] == f"{mount['mountPath']}/ca.crt"
