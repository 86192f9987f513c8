"""Static checks of the deployment files: compose, Dockerfile, Kubernetes, Prometheus, Grafana.

No Docker engine, cluster or network is needed: files are parsed and cross-checked against each
other (service names, mounts, commands, metric names, runbook anchors). The Prometheus files are
checked for real by promtool, which comes from Debian's `prometheus` package; without it those
tests fail (never skip) and say how to install it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROM_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "newsstream.json"
# Pipeline overview (the home dashboard), per-source health, content.
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
K8S_DIR = ROOT / "deploy" / "k8s"
RUNBOOK = ROOT / "docs" / "runbook.md"


def _cli_commands() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The `newsstream` CLI's commands and its groups' subcommands, read from the CLI itself
    (streams.cli): every command a deployment file or the runbook tells someone to run must be
    one of these."""
    import click

    from streams.cli import cli

    groups = {
        name: frozenset(cmd.commands)
        for name, cmd in cli.commands.items()
        if isinstance(cmd, click.Group)
    }
    return frozenset(cli.commands), groups


# a bare group only prints its help
KNOWN_COMMANDS, KNOWN_SUBCOMMANDS = _cli_commands()


def _check_command(argv: list[str], where: str) -> None:
    """argv after `newsstream`: a known command and, for a group, a known subcommand."""
    assert argv, f"{where}: bare `newsstream`"
    assert argv[0] in KNOWN_COMMANDS, f"{where}: unknown command {argv[0]!r}"
    if argv[0] in KNOWN_SUBCOMMANDS:
        sub = argv[1] if len(argv) > 1 else ""
        allowed = KNOWN_SUBCOMMANDS[argv[0]] | {"--help", "-h"}
        assert sub in allowed, f"{where}: `newsstream {argv[0]}` needs one of {sorted(allowed)}"


def _exported_metrics() -> dict[str, str]:
    """Metric name -> type, read from the metric objects streams.metrics defines."""
    from prometheus_client.metrics import MetricWrapperBase

    import streams.metrics

    found: dict[str, str] = {}
    for obj in vars(streams.metrics).values():
        if isinstance(obj, MetricWrapperBase):
            kind = obj._type
            found[obj._name + ("_total" if kind == "counter" else "")] = kind
    return found


METRICS = _exported_metrics()


def _series_names() -> frozenset[str]:
    """Every series name a query may use: histograms are queried through their suffixes."""
    names: set[str] = set()
    for name, kind in METRICS.items():
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return frozenset(names)


SERIES_NAMES = _series_names()
METRIC_RE = re.compile(r"\bnewsstream_[a-z0-9_]+\b")

# Alerts the on-call relies on; each needs a runbook section and promtool tests.
REQUIRED_ALERTS = frozenset(
    {
        "NewsstreamDeadLettersHigh",
        "NewsstreamStageStalled",
        "NewsstreamConsumerLagHigh",
        "NewsstreamConsumerLagGrowing",
        "NewsstreamSourceStale",
        "NewsstreamSinkWriteErrors",
        "NewsstreamFetchFailuresHigh",
        "NewsstreamEndToEndLatencyHigh",
        "NewsstreamTargetDown",
    }
)

PROMTOOL_INSTALL_HINT = (
    "promtool is not on PATH. It is required to check the Prometheus config, rules and rule "
    "unit tests. Install it from Debian's `prometheus` package: "
    "`apt-get update && apt-get install -y prometheus` (provides /usr/bin/promtool)."
)


# --- helpers --------------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _unknown_metrics(text: str) -> set[str]:
    return set(METRIC_RE.findall(text)) - SERIES_NAMES


def _github_anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _load_yaml(COMPOSE)
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        with path.open(encoding="utf-8") as handle:
            docs.extend((path, doc) for doc in yaml.safe_load_all(handle) if doc)
    return docs


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    data = _load_yaml(PROM_DIR / "alerts.yml")
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


@pytest.fixture(scope="module", params=DASHBOARDS, ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each dashboard in turn: every one must use the provisioned datasource and valid PromQL."""
    data: dict[str, Any] = json.loads(request.param.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def overview() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _dashboard_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def _promtool() -> str:
    """promtool's path; a missing promtool fails the calling test (it is never skipped)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_INSTALL_HINT, pytrace=False)
    return path


def _run_promtool(promtool: str, *args: str) -> None:
    # cwd is deploy/prometheus: rule_files in the config and the tests are relative to it.
    result = subprocess.run(
        [promtool, *args],
        cwd=PROM_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )


# --- docker-compose.yml ---------------------------------------------------------------------


def test_compose_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "kafka",
        "topics-init",
        "worker",
        "crawler",
        "sink",
        "postgres",
        "prometheus",
        "grafana",
    }
    assert expected <= set(services), f"missing services: {expected - set(services)}"


def test_compose_kafka_is_4_0_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.0\.\d+", kafka["image"]), kafka["image"]
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert "CONTROLLER://" in env["KAFKA_LISTENERS"]
    assert env["CLUSTER_ID"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) == 10 * 1024 * 1024
    # A single broker cannot host more than one replica of its internal topics.
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert "healthcheck" in kafka


def test_compose_start_order(services: dict[str, dict[str, Any]]) -> None:
    def condition(service: str, dependency: str) -> str:
        return services[service]["depends_on"][dependency]["condition"]

    assert condition("topics-init", "kafka") == "service_healthy"
    for service in ("worker", "crawler", "sink"):
        assert condition(service, "topics-init") == "service_completed_successfully", service
        assert condition(service, "kafka") == "service_healthy", service
    assert condition("sink", "postgres") == "service_healthy"
    assert condition("grafana", "prometheus") == "service_healthy"
    for service in ("kafka", "postgres", "prometheus"):
        assert "test" in services[service]["healthcheck"], service
    assert services["topics-init"]["restart"] == "no"
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_compose_postgres_has_volume(services: dict[str, dict[str, Any]]) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:16"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])


def test_compose_newsstream_commands_are_known(services: dict[str, dict[str, Any]]) -> None:
    ours = {name: svc for name, svc in services.items() if "build" in svc}
    assert set(ours) == {"topics-init", "worker", "crawler", "sink"}
    for name, svc in ours.items():
        command = svc["command"]
        assert isinstance(command, list), f"{name}: use the exec (list) form"
        _check_command(command, f"docker-compose.yml:{name}")
    assert services["topics-init"]["command"] == ["topics", "create"]


def test_compose_has_no_plaintext_secrets(services: dict[str, dict[str, Any]]) -> None:
    secret_key = re.compile(r"PASSWORD|SECRET|TOKEN|DSN", re.IGNORECASE)
    for name, svc in services.items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use the mapping form for environment"
        for key, value in env.items():
            if not secret_key.search(key):
                continue
            # Only ${VAR:-default} interpolation is allowed, and a default must say dev-only.
            for default in re.findall(r"\$\{[A-Z_]+:-([^}]*)\}", str(value)):
                assert "dev-only" in default, f"{name}.{key}: default not marked dev-only"
            literal = re.sub(r"\$\{[^}]*\}", "", str(value))
            if key.endswith("DSN"):
                assert not re.search(r"://[^:/@]+:[^@]+@", literal), f"{name}.{key}"
            else:
                assert literal == "", f"{name}.{key} holds a literal secret"


def test_compose_mounts_match_prometheus_and_grafana(services: dict[str, dict[str, Any]]) -> None:
    prom_volumes = services["prometheus"]["volumes"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prom_volumes
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]

    grafana_volumes = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_volumes
    mounts = dict(v.split(":")[:2] for v in grafana_volumes)
    dashboards_in_container = mounts["./deploy/grafana/dashboards"]
    providers = _load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml")
    paths = {p["options"]["path"] for p in providers["providers"]}
    assert paths == {dashboards_in_container}


def test_compose_scrape_targets_are_compose_services(services: dict[str, dict[str, Any]]) -> None:
    config = _load_yaml(PROM_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"newsstream-worker", "newsstream-crawler", "newsstream-sink"} <= set(jobs)
    hosts: set[str] = set()
    for name in ("newsstream-worker", "newsstream-crawler", "newsstream-sink"):
        job = jobs[name]
        for sd in job.get("dns_sd_configs", []):
            hosts.update(sd["names"])
            assert sd["port"] == 9108
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert port == "9108", target
                hosts.add(host)
    assert hosts == {"worker", "crawler", "sink"}
    assert hosts <= set(services)
    for rule_file in config["rule_files"]:
        assert (PROM_DIR / rule_file).is_file(), rule_file


def test_compose_replicated_services_can_scale(services: dict[str, dict[str, Any]]) -> None:
    """`docker compose up --scale crawler=3` (and worker): no fixed container name or host
    port may be taken twice, and Prometheus must scrape every replica, not one of them."""
    jobs = {
        job["job_name"]: job for job in _load_yaml(PROM_DIR / "prometheus.yml")["scrape_configs"]
    }
    for name in ("worker", "crawler"):
        service = services[name]
        assert "container_name" not in service, name
        assert "ports" not in service, name
        (sd,) = jobs[f"newsstream-{name}"]["dns_sd_configs"]
        assert sd["names"] == [name]
        assert "static_configs" not in jobs[f"newsstream-{name}"]
    assert "--scale crawler=" in COMPOSE.read_text(encoding="utf-8")


def _newsstream_env_keys() -> dict[str, set[str]]:
    """NEWSSTREAM_* variables set by each deployment file."""
    keys: dict[str, set[str]] = {}
    for compose_file in (COMPOSE, ROOT / "docker-compose.sasl.yml"):
        for svc_name, svc in _load_yaml(compose_file)["services"].items():
            for key in svc.get("environment") or {}:
                keys.setdefault(key, set()).add(f"{compose_file.name}:{svc_name}")
    for path in sorted(K8S_DIR.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if doc and doc.get("kind") in {"ConfigMap", "Secret"}:
                    for key in {**doc.get("data", {}), **doc.get("stringData", {})}:
                        keys.setdefault(key, set()).add(path.name)
                if doc and doc.get("kind") in {"Deployment", "Job"}:
                    for container in doc["spec"]["template"]["spec"]["containers"]:
                        for entry in container.get("env", []):
                            keys.setdefault(entry["name"], set()).add(path.name)
    for key in re.findall(r"\b(NEWSSTREAM_[A-Z_]+)=", DOCKERFILE.read_text(encoding="utf-8")):
        keys.setdefault(key, set()).add("Dockerfile")
    return {k: v for k, v in keys.items() if k.startswith("NEWSSTREAM_")}


def test_deploy_env_vars_are_real_settings() -> None:
    # NEWSSTREAM_CONFIG is read by the CLI (--config), not a field of Settings.
    known = {f"NEWSSTREAM_{name.upper()}" for name in Settings.model_fields} | {"NEWSSTREAM_CONFIG"}
    used = _newsstream_env_keys()
    assert {"NEWSSTREAM_KAFKA_BOOTSTRAP", "NEWSSTREAM_POSTGRES_DSN"} <= set(used)
    unknown = {key: sorted(where) for key, where in used.items() if key not in known}
    assert not unknown, f"not settings of streams.settings.Settings (typo?): {unknown}"


# --- Dockerfile -----------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    instructions = []
    for line in logical.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_final_stage_is_non_root_with_healthcheck() -> None:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    final = instructions[last_from:]
    users = [arg for kw, arg in final if kw == "USER"]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"final stage runs as {users[-1]}"
    healthchecks = [arg for kw, arg in final if kw == "HEALTHCHECK"]
    assert healthchecks, "final stage has no HEALTHCHECK"
    assert "/healthz" in healthchecks[-1]
    entrypoint = next(arg for kw, arg in reversed(final) if kw == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["newsstream"]
    _check_command(json.loads(next(arg for kw, arg in reversed(final) if kw == "CMD")), "CMD")
    # The package binds 127.0.0.1 by default; in a container nothing could scrape or probe it.
    env = " ".join(arg for kw, arg in final if kw == "ENV")
    assert "NEWSSTREAM_METRICS_HOST=0.0.0.0" in env
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text(encoding="utf-8")


def test_dockerignore_keeps_build_inputs() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv"} <= patterns
    # The build copies these; ignoring them would break `pip install .`.
    assert not patterns & {"streams", "pyproject.toml", "README.md", "*.md", "*"}


# --- Kubernetes -----------------------------------------------------------------------------


def _pod_specs(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> Iterator[tuple[str, dict]]:
    for path, doc in k8s_docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield f"{path.name}:{doc['metadata']['name']}", doc["spec"]["template"]


def test_k8s_manifests_parse(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    kinds = {doc["kind"] for _, doc in k8s_docs}
    assert {"Namespace", "ConfigMap", "Secret", "Job", "Deployment", "PodDisruptionBudget"} <= kinds
    for path, doc in k8s_docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path.name


def test_k8s_kustomization_lists_every_file() -> None:
    kustomization = _load_yaml(K8S_DIR / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.iterdir() if p.suffix in {".yaml", ".yml"}}
    on_disk.discard("kustomization.yaml")
    assert listed == on_disk


def test_k8s_deployments_have_probes_resources_and_scrape_annotations(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    deployments = {
        doc["metadata"]["name"]: doc for _, doc in k8s_docs if doc["kind"] == "Deployment"
    }
    assert set(deployments) == {"newsstream-worker", "newsstream-crawler", "newsstream-sink"}
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == "9108", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        for container in template["spec"]["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            resources = container["resources"]
            assert resources["requests"]["cpu"], name
            assert resources["requests"]["memory"], name
            assert resources["limits"]["memory"], name
            # Liveness asks "is the loop turning" (restart if not); readiness asks "are its
            # dependencies up" (a sink waiting for PostgreSQL is alive but not ready).
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                http = container[probe]["httpGet"]
                assert http["path"] == path, f"{name}.{probe}"
                port = http["port"]
                assert ports.get(port, port) == 9108, f"{name}.{probe}"


def test_k8s_pods_run_known_commands_as_non_root(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    seen: set[str] = set()
    for where, template in _pod_specs(k8s_docs):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert container["command"] == ["newsstream"], where
            _check_command(container["args"], where)
            seen.add(" ".join(container["args"]))
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert "resources" in container, where
    assert seen == {"worker", "crawl", "sink", "topics create", "sources import --if-new"}


def test_k8s_pdb_selects_the_workers(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for _, doc in k8s_docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (pdb,) = by_kind["PodDisruptionBudget"]
    worker = next(d for d in by_kind["Deployment"] if d["metadata"]["name"] == "newsstream-worker")
    assert pdb["spec"]["selector"] == worker["spec"]["selector"]
    assert worker["spec"]["replicas"] >= 2  # a PDB over one replica blocks every drain


def test_k8s_secret_is_a_template(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    secrets = [doc for _, doc in k8s_docs if doc["kind"] == "Secret"]
    assert secrets
    for secret in secrets:
        assert "data" not in secret, "use stringData with a visible placeholder"
        for key, value in secret["stringData"].items():
            assert "REPLACE_ME" in value, f"{key} must hold a placeholder, not a secret"


def test_k8s_kustomize_builds(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # kubectl is not a Debian package; the structural checks above still run.
        pytest.skip("kubectl not on PATH: `kubectl kustomize deploy/k8s` not checked")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert len(built) == len(k8s_docs)
    for doc in built:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "newsstream", doc["metadata"]["name"]


# --- Prometheus: alert rules and runbook ----------------------------------------------------


def test_required_alerts_exist(alert_rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in alert_rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert set(names) >= REQUIRED_ALERTS, REQUIRED_ALERTS - set(names)


def test_alerts_have_annotations_and_runbook_anchors(alert_rules: list[dict[str, Any]]) -> None:
    headings = re.findall(r"^#{2,3} (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    anchors = {_github_anchor(h) for h in headings}
    for rule in alert_rules:
        name = rule["alert"]
        annotations = rule["annotations"]
        assert annotations.get("summary"), name
        assert annotations.get("description"), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        runbook = annotations["runbook"]
        path, _, anchor = runbook.partition("#")
        assert path == "docs/runbook.md", name
        assert anchor == _github_anchor(name), f"{name}: anchor should be the alert name"
        assert anchor in anchors, f"{name}: no runbook section #{anchor}"


def test_runbook_has_no_section_without_alert(alert_rules: list[dict[str, Any]]) -> None:
    sections = re.findall(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(sections) == sorted(rule["alert"] for rule in alert_rules)


def test_alert_metrics_are_known(alert_rules: list[dict[str, Any]]) -> None:
    for rule in alert_rules:
        text = rule["expr"] + " ".join(rule["annotations"].values())
        assert not _unknown_metrics(text), f"{rule['alert']}: {_unknown_metrics(text)}"


def test_every_alert_has_firing_and_quiet_tests(alert_rules: list[dict[str, Any]]) -> None:
    tests = _load_yaml(PROM_DIR / "alerts.test.yml")
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules}
    assert names <= fires, f"never shown to fire: {names - fires}"
    assert names <= quiet, f"never shown to stay quiet: {names - quiet}"


def _runbook_commands() -> list[list[str]]:
    """Every `newsstream ...` invocation in the runbook's code, as argv lists."""
    text = RUNBOOK.read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    commands = []
    for code in [*blocks, *inline]:
        tokens = code.split()
        for i, token in enumerate(tokens):
            # `-n newsstream`, `-U newsstream` are a namespace and a user, not the CLI.
            previous = tokens[i - 1] if i else ""
            is_cli = token == "newsstream" and not (previous.startswith("-") and previous != "--")
            if is_cli and tokens[i + 1 :]:  # a bare `newsstream` is prose naming the CLI
                commands.append(tokens[i + 1 : i + 3])
    return commands


def test_runbook_commands_exist() -> None:
    commands = _runbook_commands()
    assert {argv[0] for argv in commands if argv} >= {"dlq", "tail", "topics"}
    for argv in commands:
        _check_command(argv, "docs/runbook.md")


def test_runbook_panels_exist() -> None:
    boards = [json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARDS]
    titles = {panel["title"] for board in boards for panel in _dashboard_panels(board)}
    referenced = set(re.findall(r'[Pp]anel "([^"]+)"', RUNBOOK.read_text(encoding="utf-8")))
    assert referenced, "runbook should point at dashboard panels"
    assert referenced <= titles, f"runbook names missing panels: {referenced - titles}"


def test_promtool_check_config() -> None:
    _run_promtool(_promtool(), "check", "config", "prometheus.yml")


def test_promtool_check_rules() -> None:
    _run_promtool(_promtool(), "check", "rules", "alerts.yml")


def test_promtool_test_rules() -> None:
    _run_promtool(_promtool(), "test", "rules", "alerts.test.yml")


# --- Grafana ---------------------------------------------------------------------------------


def test_grafana_datasource_matches_dashboard(dashboard: dict[str, Any]) -> None:
    provisioning = _load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    (datasource,) = provisioning["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    for panel in _dashboard_panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_grafana_dashboards_are_distinct_and_known(dashboard: dict[str, Any]) -> None:
    assert {p.name for p in DASHBOARDS} == {"newsstream.json", "sources.json", "content.json"}
    uids = [json.loads(p.read_text(encoding="utf-8"))["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    panels = list(_dashboard_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"{dashboard['title']}: panel ids must be unique"
    exprs = " ".join(t["expr"] for p in panels for t in p.get("targets", []))
    assert not _unknown_metrics(exprs), _unknown_metrics(exprs)


def test_grafana_dashboard_is_complete(overview: dict[str, Any]) -> None:
    dashboard = overview
    panels = list(_dashboard_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert dashboard["uid"]
    exprs = " ".join(t["expr"] for p in panels for t in p.get("targets", []))
    # Throughput, DLQ, lag, e2e latency, fetch outcomes, sink writes, routing: all on screen.
    for metric in (
        "newsstream_records_total",
        "newsstream_dead_letters_total",
        "newsstream_consumer_lag",
        "newsstream_end_to_end_latency_seconds_bucket",
        "newsstream_fetch_total",
        "newsstream_sink_writes_total",
        "newsstream_articles_routed_total",
    ):
        assert metric in exprs, f"dashboard does not show {metric}"
    assert "histogram_quantile(0.50" in exprs
    assert "histogram_quantile(0.95" in exprs
    assert not _unknown_metrics(exprs), _unknown_metrics(exprs)


def test_grafana_queries_are_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    promtool = _promtool()
    # promtool has no "check query"; wrapping each query in a recording rule gets it parsed.
    rules = []
    for panel in _dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m")
            rules.append(
                {"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": expr}
            )
    assert rules
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
