"""`newsstream run --demo` end to end: its own broker and PostgreSQL, the demo site crawled,
articles on the topics and in PostgreSQL, a killed worker child restarted, and Ctrl-C leaves
no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from streams.demo.pages import page_by_key
from streams.infra.postgres_local import EmbeddedPostgres
from streams.settings import Settings, load_settings
from tests.integration.conftest import free_ports
from tests.integration.pipeline.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def leftovers(state: Path) -> list[str]:
    out = subprocess.run(
        ["pgrep", "-af", str(state)], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def wait_sql(dsn: str, sql: str, timeout_s: float = 120, at_least: int = 1) -> int:
    deadline = time.monotonic() + timeout_s
    n = 0
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                n = conn.execute(sql).fetchone()[0]  # type: ignore[index]
                if n >= at_least:
                    return int(n)
        except psycopg.Error:
            pass
        time.sleep(1)
    raise AssertionError(f"no rows for {sql!r} in {timeout_s}s")


def wait_topic(settings: Settings, topic: str, timeout_s: float = 240) -> None:
    """Until the broker that `run` starts answers and `run` has created ``topic``."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    async def exists() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap())
        try:
            await admin.start()
            return topic in await admin.list_topics()
        except KafkaError:
            return False
        finally:
            await admin.close()

    deadline = time.monotonic() + timeout_s
    while not asyncio.run(exists()):
        assert time.monotonic() < deadline, f"{topic} did not appear in {timeout_s}s"
        time.sleep(1)


def child_pid(parent: int, command: str, *, missing_ok: bool = False) -> int | None:
    """The pid of the child of ``parent`` running `newsstream COMMAND`."""
    out = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", f"streams {command}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if not out:
        assert missing_ok, f"no `{command}` child of {parent}"
        return None
    return int(out[0])


def wait_ready(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as r:
                if r.status == 200:
                    return
        except OSError:  # not listening yet, or 503 (HTTPError is an OSError)
            pass
        assert time.monotonic() < deadline, f"/readyz on :{port} not 200 in {timeout_s:.0f}s"
        time.sleep(1)


def test_run_demo_flows_end_to_end_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    kport, cport, pgport, mport = free_ports(4)
    env = os.environ | {
        "NEWSSTREAM_STATE_DIR": str(state),
        "NEWSSTREAM_KAFKA_LOCAL_PORT": str(kport),
        "NEWSSTREAM_KAFKA_LOCAL_CONTROLLER_PORT": str(cport),
        "NEWSSTREAM_POSTGRES_EMBEDDED_PORT": str(pgport),
        "NEWSSTREAM_METRICS_PORT": str(mport),
    }
    for key in ("NEWSSTREAM_KAFKA_BOOTSTRAP", "NEWSSTREAM_POSTGRES_DSN"):
        env.pop(key, None)
    log = (tmp_path / "run.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams", "run", "--demo"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    phase = "start"
    try:
        settings = load_settings(kafka_bootstrap=f"127.0.0.1:{kport}")
        wait_topic(settings, "news.articles")
        phase = "first article"
        first = wait_for(settings, "news.articles", lambda d: True, timeout_s=240)
        print(f"\nfirst article on news.articles {time.monotonic() - started:.1f}s after start")
        assert first["kind"] == "ClassifiedArticle"
        # The syndicated copy and its original: whichever reached the band step first, one
        # names the other (streams/dedup/README.md, "Arrival order"); both kept fails here.
        phase = "the syndicated copy's duplicate event"
        pair = [page_by_key(key).path for key in ("rate-en", "rate-en-partner")]
        dup = wait_for(
            settings, "news.duplicates", lambda d: d["url"].endswith(tuple(pair)), timeout_s=120
        )
        assert dup["reason"] in ("same_content", "near_duplicate")
        phase = "first revision"
        wait_for(settings, "news.articles", lambda d: d["revision"] >= 1, timeout_s=180)
        phase = "rows in PostgreSQL"
        dsn = EmbeddedPostgres(state / "postgres", port=pgport).dsn
        assert wait_sql(dsn, "SELECT count(*) FROM articles", at_least=5) >= 5
        assert wait_sql(dsn, "SELECT count(*) FROM articles WHERE revision >= 1") == 1

        phase = "worker restart"
        # Supervision: SIGKILL the worker child; `run` restarts it and keeps running.
        worker = child_pid(proc.pid, "worker")
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while (again := child_pid(proc.pid, "worker", missing_ok=True)) in (None, worker):
            assert proc.poll() is None, "run stopped when its worker died"
            assert time.monotonic() < deadline, "the worker was not restarted in 120 s"
            time.sleep(0.5)
        wait_ready(mport + 1, 180)  # the new worker joined its group
        assert proc.poll() is None
        print(f"worker {worker} killed; restarted as {again}")
    except (AssertionError, TimeoutError) as exc:
        took = time.monotonic() - started
        tail = (tmp_path / "run.log").read_text(errors="replace")[-4000:]
        raise AssertionError(f"{phase}: {exc!r} after {took:.0f} s; run log tail:\n{tail}") from exc
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = proc.wait(90)
        log.close()
    text = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert leftovers(state) == [], text[-3000:]
