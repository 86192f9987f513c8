"""A broker outage, as a worker lives it: said once, summarised, its end said once; /readyz
is 503 while the broker is away and 200 again after; /healthz stays 200 throughout.

This module runs its own broker (the session's is shared by the other tests) and stops it for
~40 s under a running worker. Before the outage watch, ~47 s of outage wrote ~6,000 ERROR lines
per worker.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from streams.infra.kafka_local import LocalKafka
from streams.topology import Topology
from tests.integration.conftest import kafka_config
from tests.integration.pipeline.conftest import Spawn

pytestmark = pytest.mark.integration
OUTAGE_S = 40.0


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    kafka = LocalKafka(kafka_config(tmp_path_factory.mktemp("outage-kafka")))
    kafka.up()
    try:
        yield kafka
    finally:
        kafka.down()


@pytest.fixture(scope="module")
def stream_env(own_kafka: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": own_kafka.bootstrap,
        "NEWSSTREAM_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        "NEWSSTREAM_CONSUMER_GROUP": f"outage-{uuid.uuid4().hex[:8]}",
        "NEWSSTREAM_PRODUCER_LINGER_MS": "0",
    }


def probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        exc.close()
        return exc.code, body
    except OSError:
        return 0, ""


def wait_status(proc: subprocess.Popen[bytes], path: str, want: int, timeout_s: float) -> str:
    port = proc.metrics_port  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = probe(port, path)
        if status == want:
            return body
        assert proc.poll() is None, proc.log_path.read_text()[-3000:]  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"{path} not {want} in {timeout_s:.0f}s: {body}"
        time.sleep(1)


def test_worker_says_a_broker_outage_once_and_readiness_follows_it(
    spawn: Spawn, stream_topology: Topology, own_kafka: LocalKafka
) -> None:
    worker = spawn("worker", "--stages", "clean,dedup")
    deadline = time.monotonic() + 120
    while "kafka: ready" not in wait_status(worker, "/readyz", 200, 120):
        assert time.monotonic() < deadline, "the broker watch never reported"
        time.sleep(1)

    own_kafka.down()
    went = time.monotonic()
    body = wait_status(worker, "/readyz", 503, 30)
    assert "broker unreachable" in body
    while time.monotonic() - went < OUTAGE_S:
        assert probe(worker.metrics_port, "/healthz")[0] == 200  # type: ignore[attr-defined]
        time.sleep(5)
    own_kafka.up()
    wait_status(worker, "/readyz", 200, 120)
    assert worker.poll() is None

    log = worker.log_path.read_text()  # type: ignore[attr-defined]
    assert log.count("Kafka unreachable at") == 1, log[-3000:]
    assert log.count("Kafka reachable again") == 1, log[-3000:]
    during = log.split("Kafka unreachable at", 1)[1].split("Kafka reachable again", 1)[0]
    errors = [ln for ln in during.splitlines() if " ERROR " in ln or " WARNING aiokafka" in ln]
    print(f"outage: {len(errors)} ERROR/aiokafka lines during ~{OUTAGE_S:.0f}s of outage")
    assert len(errors) <= 10, "\n".join(errors[:40])
