"""Static checks that the deployment files keep secrets in Secrets: Kafka SASL_SSL settings and
the PostgreSQL DSN in Kubernetes (mounted files, one Kafka user per role, Strimzi-shaped
Secrets, ACLs equal to the topology's) and the compose SASL_SSL override (its secrets made by
deploy/compose/dev-secrets.sh, which runs here with openssl; a missing openssl fails)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S_DIR = ROOT / "deploy" / "k8s"
STRIMZI_DIR = K8S_DIR / "strimzi"
COMPOSE = ROOT / "docker-compose.yml"
SASL_OVERRIDE = ROOT / "docker-compose.sasl.yml"
DEV_SECRETS = ROOT / "deploy" / "compose" / "dev-secrets.sh"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|DSN|JAAS", re.IGNORECASE)
KAFKA_SECURITY = (
    "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL",
    "NEWSSTREAM_KAFKA_SASL_MECHANISM",
    "NEWSSTREAM_KAFKA_SASL_USERNAME",
    "NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE",
    "NEWSSTREAM_KAFKA_SSL_CAFILE",
)
# Every newsstream workload talks to Kafka; each logs in as its own user.
ROLE_USERS = {
    "newsstream-crawler": "newsstream-crawler",
    "newsstream-worker": "newsstream-worker",
    "newsstream-sink": "newsstream-sink",
    "newsstream-topics-init": "newsstream-admin",
}


def _docs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _k8s() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S_DIR.glob("*.yaml")) for doc in _docs(path)]


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _k8s() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _workloads() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _k8s() if d["kind"] in {"Deployment", "Job"}}


def _pod_env(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """The container's environment: its ConfigMaps, then its own env entries (the later wins)."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "secrets are mounted as files, not env"
        env |= _one("ConfigMap", source["configMapRef"]["name"])["data"]
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


def _mounted_secret(pod: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str, str]:
    """(Secret name, key) of the file at ``path``; fails unless a Secret volume provides it."""
    file = PurePosixPath(path)
    for mount in container.get("volumeMounts", []):
        if file.parent != PurePosixPath(mount["mountPath"]):
            continue
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert "secret" in volume, f"{path} is not from a Secret"
        for item in volume["secret"]["items"]:
            if item["path"] == file.name:
                return volume["secret"]["secretName"], item["key"]
    raise AssertionError(f"nothing mounts {path}")


def test_every_workload_gets_kafka_security_from_secrets() -> None:
    workloads = _workloads()
    assert set(workloads) == set(ROLE_USERS)
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        # Secret files are root-owned; the group fsGroup lets the non-root process read them.
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"], name
        for container in pod["containers"]:
            env = _pod_env(pod, container)
            assert all(key in env for key in KAFKA_SECURITY), name
            assert env["NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
            assert env["NEWSSTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
            user = env["NEWSSTREAM_KAFKA_SASL_USERNAME"]
            assert user == ROLE_USERS[name], name
            secret, key = _mounted_secret(
                pod, container, env["NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE"]
            )
            assert (secret, key) == (user, "password"), f"{name}: Strimzi's Secret of {user}"
            secret, key = _mounted_secret(pod, container, env["NEWSSTREAM_KAFKA_SSL_CAFILE"])
            assert secret.endswith("-cluster-ca-cert"), name
            assert key == "ca.crt", name


def test_no_literal_secret_in_any_environment() -> None:
    for doc in _k8s():
        if doc["kind"] == "ConfigMap":
            secretish = [k for k in doc["data"] if SECRET_NAME.search(k) and k[-5:] != "_FILE"]
            assert not secretish, f"{doc['metadata']['name']}: {secretish}"
    for name, workload in _workloads().items():
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            for entry in container.get("env", []):
                if SECRET_NAME.search(entry["name"]) and not entry["name"].endswith("_FILE"):
                    assert "value" not in entry, f"{name}: {entry['name']} is a literal"


def test_sink_reads_the_dsn_and_postgres_ca_from_a_mounted_secret() -> None:
    sink = _workloads()["newsstream-sink"]["spec"]["template"]["spec"]
    (container,) = sink["containers"]
    env = _pod_env(sink, container)
    assert "NEWSSTREAM_POSTGRES_DSN" not in env
    secret, key = _mounted_secret(sink, container, env["NEWSSTREAM_POSTGRES_DSN_FILE"])
    dsn = _one("Secret", secret)["stringData"][key]
    assert "sslmode=verify-full" in dsn
    (root,) = re.findall(r"sslrootcert=([^&]+)", dsn)
    assert _mounted_secret(sink, container, root) == (secret, "ca.crt")
    # Only the sink gets the database.
    for name, workload in _workloads().items():
        if name != "newsstream-sink":
            assert "newsstream-postgres" not in str(workload), name


def _kafka_users() -> dict[str, dict[str, Any]]:
    docs = _docs(STRIMZI_DIR / "kafka-users.yaml")
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "KafkaUser"}


def test_strimzi_users_are_the_workloads_users() -> None:
    users = _kafka_users()
    assert set(users) == set(ROLE_USERS.values())
    for user in users.values():
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert user["metadata"]["labels"]["strimzi.io/cluster"]
    examples = {d["metadata"]["name"]: d for d in _docs(STRIMZI_DIR / "secrets.example.yaml")}
    ca = next(d for name, d in examples.items() if name.endswith("-cluster-ca-cert"))
    assert set(ca["stringData"]) == {"ca.crt"}
    user_secrets = [d for name, d in examples.items() if name in users]
    assert user_secrets
    for secret in [*user_secrets, ca]:
        assert "data" not in secret
        assert all("REPLACE_ME" in v for v in secret["stringData"].values())
    for secret in user_secrets:  # Strimzi's keys for a SCRAM user
        assert set(secret["stringData"]) == {"password", "sasl.jaas.config"}


def test_strimzi_acls_are_the_topologys() -> None:
    from streams.classify import load_taxonomy
    from streams.kafka.acls import role_acls
    from streams.settings import Settings
    from streams.topology import build_topology

    settings = Settings()
    topology = build_topology(settings, load_taxonomy().topic_names())
    expected: set[tuple[str, str, str, str]] = set()
    for acl in role_acls(topology, settings):
        expected.add(
            (f"newsstream-{acl.principal}", acl.resource.name, acl.name, acl.operation.name)
        )
    found: set[tuple[str, str, str, str]] = set()
    for name, user in _kafka_users().items():
        if name == "newsstream-admin":
            continue
        for rule in user["spec"]["authorization"]["acls"]:
            resource = rule["resource"]
            assert resource["patternType"] == "literal", f"{name}: {resource}"
            for op in rule["operations"]:
                if op != "Describe" or rule["operations"] == ["Describe"]:  # else implied
                    found.add((name, resource["type"].upper(), resource["name"], op.upper()))
    assert found == expected, {"missing": expected - found, "extra": found - expected}


# --- docker-compose.sasl.yml ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not on PATH: apt-get install openssl", pytrace=False)
    out = tmp_path_factory.mktemp("dev-secrets")
    for _ in range(2):  # a second run keeps what the first made
        done = subprocess.run(
            ["bash", str(DEV_SECRETS), str(out)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    return out


def test_compose_sasl_override_is_consistent(dev_secrets: Path) -> None:
    base = _docs(COMPOSE)[0]["services"]
    override = _docs(SASL_OVERRIDE)[0]
    secrets = override["secrets"]
    for secret in secrets.values():
        path = PurePosixPath(secret["file"])
        assert str(path.parent) == "deploy/compose/secrets", path
        assert (dev_secrets / path.name).is_file(), f"dev-secrets.sh does not make {path.name}"
    ours = {name for name, svc in base.items() if "build" in svc}
    users: set[str] = set()
    for name in ours:
        svc = override["services"][name]
        env = {**base[name].get("environment", {}), **svc["environment"]}
        assert env["NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["NEWSSTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        for key in ("NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE", "NEWSSTREAM_KAFKA_SSL_CAFILE"):
            path = PurePosixPath(env[key])
            assert str(path.parent) == "/run/secrets", f"{name}.{key}"
            assert path.name in svc["secrets"], f"{name}: {path.name} not mounted"
            assert path.name in secrets, path.name
        assert not any(SECRET_NAME.search(k) and k[-5:] != "_FILE" for k in svc["environment"])
        users.add(env["NEWSSTREAM_KAFKA_SASL_USERNAME"])
    assert len(users) == len(ours), "one Kafka user per role"
    # kafka-users creates exactly those users, from the mounted password files.
    creator = override["services"]["kafka-users"]
    (script,) = creator["command"]
    (listed,) = re.findall(r"for user in ([\w ]+); do", script)
    assert set(listed.split()) == users
    assert {f"kafka-{u}.password" for u in users} == set(creator["secrets"])


def test_compose_sasl_broker_listeners(dev_secrets: Path) -> None:
    kafka = _docs(SASL_OVERRIDE)[0]["services"]["kafka"]
    env = kafka["environment"]
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = dict(re.findall(r"(\w+)://([^,]*)", env["KAFKA_LISTENERS"]))
    assert set(listeners) == set(protocols)
    assert "SSL://" not in env["KAFKA_LISTENERS"] + env["KAFKA_ADVERTISED_LISTENERS"]
    for name, protocol in protocols.items():
        if protocol == "PLAINTEXT" and name != "CONTROLLER":
            assert listeners[name].startswith("127.0.0.1:"), f"{name} is plaintext beyond loopback"
        elif name != "CONTROLLER":
            assert protocol == "SASL_SSL", name
            jaas = f"KAFKA_LISTENER_NAME_{name}_SCRAM___SHA___512_SASL_JAAS_CONFIG"
            assert "ScramLoginModule" in env[jaas], name
    keystore = PurePosixPath(env["KAFKA_SSL_KEYSTORE_LOCATION"])
    assert keystore.name in kafka["secrets"]
    pem = dev_secrets / keystore.name
    assert pem.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # Kafka's PEM key store
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(dev_secrets / "ca.crt"), str(pem)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 0, verify.stderr
    names = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(pem)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "DNS:kafka" in names
    assert "IP Address:127.0.0.1" in names
