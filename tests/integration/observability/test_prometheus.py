"""A real Prometheus (Debian's `prometheus` binary) scrapes a running sink; PromQL returns the
counts the test caused. Every metric a dashboard or an alert queries is checked against the
names a live process exports on /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.records import ClassifiedArticle
from streams.settings import Settings
from streams.topology import ARTICLES, Topology
from tests.conftest import make_article
from tests.integration.conftest import free_ports
from tests.integration.pipeline.conftest import Spawn, produce

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
METRIC = re.compile(r"\bnewsstream_[a-z0-9_]+\b")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        exc.close()
        return exc.code, body


def wait_http(url: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status, body = http_get(url)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s}s")


@pytest.fixture(scope="module")
def sink(spawn: Spawn, stream_topology: Topology, postgres_dsn: str) -> Any:
    proc = spawn("sink", extra_env={"NEWSSTREAM_POSTGRES_DSN": postgres_dsn})
    wait_http(f"http://127.0.0.1:{proc.metrics_port}/readyz")
    return proc


@pytest.fixture(scope="module")
def prometheus(sink: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not on PATH: `apt-get install prometheus` (make tools)")
    home = tmp_path_factory.mktemp("prometheus")
    config = {
        # 1 s instead of the deployed 15 s, so the test waits seconds, not minutes.
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],  # the real server must load the deployed rules too
        "scrape_configs": [{
            "job_name": "newsstream-sink",
            "static_configs": [{"targets": [f"127.0.0.1:{sink.metrics_port}"]}],
        }],
    }  # fmt: skip
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    (port,) = free_ports(1)
    log = (home / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def query(base: str, promql: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    assert status == 200, body
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result


def scalar(base: str, promql: str) -> float | None:
    result = query(base, promql)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_sink_and_counts_what_was_stored(
    prometheus: str, sink: Any, stream_settings: Settings
) -> None:
    source = f"prom-{uuid.uuid4().hex[:6]}"
    fetched = datetime.now(UTC)
    for i in range(12):
        art = make_article(f"Prometheus story {i}.", article_id=uuid.uuid4().hex)
        fields = art.model_dump(exclude={"kind"}) | {
            "source_id": source, "topics": ["economy"], "scores": {"economy": 0.7},
            "fetched_at": fetched, "published": fetched - timedelta(hours=1),
        }  # fmt: skip
        record = ClassifiedArticle(**fields)
        produce(stream_settings, ARTICLES, record.article_id.encode(), record.to_json())
    stored = f'sum(newsstream_end_to_end_latency_seconds_count{{source="{source}"}})'
    deadline, value = time.monotonic() + 90, None
    while time.monotonic() < deadline and value != 12:
        value = scalar(prometheus, stored)
        time.sleep(1)
    assert value == 12
    fresh = f'sum(newsstream_publication_to_storage_seconds_count{{source="{source}"}})'
    assert scalar(prometheus, fresh) == 12
    # Published an hour before fetch: every observation is in the 3600 s bucket, none below.
    le = f'newsstream_publication_to_storage_seconds_bucket{{source="{source}",le="%s"}}'
    assert scalar(prometheus, le % "1800.0") == 0
    assert scalar(prometheus, le % "10800.0") == 12
    assert scalar(prometheus, 'up{job="newsstream-sink"}') == 1
    rules = json.loads(http_get(f"{prometheus}/api/v1/rules")[1])["data"]["groups"]
    loaded = {r["name"] for g in rules for r in g["rules"]}
    assert loaded == {r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"]
                      for r in g["rules"]}  # fmt: skip


def live_series(metrics_text: str) -> set[str]:
    """Every series name a query may use, from the # TYPE lines of a live /metrics."""
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.MULTILINE):
        names.add(name)
        if kind == "counter":
            names.add(name if name.endswith("_total") else f"{name}_total")
        if kind == "histogram":
            names.update(f"{name}{s}" for s in ("_bucket", "_sum", "_count"))
    return names


def queried_metrics() -> dict[str, set[str]]:
    """Metric names used per dashboard / alert, parsed from their expressions."""
    used: dict[str, set[str]] = {}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        panels = [p for top in board["panels"] for p in [top, *top.get("panels", [])]]
        exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
        exprs += [v.get("query", "") for v in board.get("templating", {}).get("list", [])
                  if isinstance(v.get("query"), str)]  # fmt: skip
        used[path.name] = {m for e in exprs for m in METRIC.findall(e)}
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            used[rule["alert"]] = set(METRIC.findall(rule["expr"]))
    return used


def test_every_queried_metric_is_exported_by_a_live_process(sink: Any) -> None:
    status, text = http_get(f"http://127.0.0.1:{sink.metrics_port}/metrics")
    assert status == 200
    exported = live_series(text)
    used = queried_metrics()
    assert len(DASHBOARDS) >= 3
    # Alerts on `up` alone query no newsstream metric; every dashboard must query some.
    assert all(used[p.name] for p in DASHBOARDS)
    missing = {where: sorted(names - exported) for where, names in used.items()
               if names - exported}  # fmt: skip
    assert not missing, f"queried but not exported: {missing}"


def test_health_endpoints(sink: Any) -> None:
    base = f"http://127.0.0.1:{sink.metrics_port}"
    status, body = http_get(f"{base}/healthz")
    assert status == 200
    assert body.startswith("ok\nsink: last heartbeat ")
    status, body = http_get(f"{base}/readyz")
    assert status == 200
    assert body.startswith("ok\nkafka: ready broker reachable at 127.0.0.1:")
    assert body.endswith("\nsink: ready connected to PostgreSQL\n")
    assert http_get(f"{base}/nope")[0] == 404


def test_worker_serves_health_and_the_same_metric_names(
    spawn: Spawn, stream_topology: Topology
) -> None:
    # clean only: the classifier model is not needed to show the worker's endpoints.
    worker = spawn("worker", "--stages", "clean")
    base = f"http://127.0.0.1:{worker.metrics_port}"
    body = wait_http(f"{base}/readyz", timeout_s=120)
    assert body.startswith("ok\nkafka: ready broker reachable at ")
    assert "\nworker: ready " in body
    assert "partitions assigned" in body
    deadline, body = time.monotonic() + 30, ""
    while time.monotonic() < deadline and "worker: last heartbeat" not in body:
        status, body = http_get(f"{base}/healthz")
        assert status == 200
        time.sleep(0.5)
    assert "worker: last heartbeat" in body
    exported = live_series(http_get(f"{base}/metrics")[1])
    used = set().union(*queried_metrics().values())
    assert used <= exported, sorted(used - exported)
