"""The whole pipeline over SASL_SSL: crawler, worker and sink each log in as their own SCRAM
user (what `newsstream kafka env --user ROLE` prints) with only their ACLs, and the demo site's
pages end as rows in PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from streams.infra._process import free_ports
from tests.integration.security.conftest import NEWSSTREAM, SecureBroker

pytestmark = pytest.mark.integration


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_crawl_worker_sink_over_sasl_ssl_with_a_user_per_role(
    secure_broker: SecureBroker,
    postgres_dsn: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    def start(user: str, *args: str) -> Path:
        (port,) = free_ports(1)
        env = os.environ | secure_broker.env | secure_broker.user_env(user)
        env |= {
            "NEWSSTREAM_STATE_DIR": str(tmp_path / user),
            "NEWSSTREAM_METRICS_PORT": str(port),
            "NEWSSTREAM_POSTGRES_DSN": postgres_dsn,
        }
        assert env["NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        log = tmp_path / f"{user}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([NEWSSTREAM, *args], env=env, stdout=out, stderr=out)
        processes.append(proc)
        return log

    async def stored() -> int:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            return int(
                await conn.fetchval("SELECT count(*) FROM articles WHERE source_id = 'demo'") or 0
            )
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    logs = {
        "sink": start("sink", "sink"),
        "worker": start("worker", "worker"),
        "crawler": start("crawler", "crawl", "--demo"),
    }
    deadline = time.monotonic() + 300
    while (count := asyncio.run(stored())) < 3:
        for proc, (user, log) in zip(processes, logs.items(), strict=True):
            assert proc.poll() is None, f"{user} stopped:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, {u: p.read_text()[-1500:] for u, p in logs.items()}
        time.sleep(3)
    for user, log in logs.items():
        text = log.read_text()
        assert "Authorization" not in text, f"{user}: {text[-2000:]}"
        assert "Traceback" not in text, f"{user}: {text[-2000:]}"
    print(f"secure pipeline: {count} demo articles stored over SASL_SSL")
