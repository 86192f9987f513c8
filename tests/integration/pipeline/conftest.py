"""Fixtures that run newsstream processes (worker, sink) against the session's real broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.infra._process import stop_child
from streams.kafka.admin import check_topics
from streams.kafka.reader import read_topic
from streams.settings import Settings, load_settings
from streams.topology import Topology, build_topology
from tests.integration.conftest import free_ports

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def stream_env(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for child processes: the test broker, a fresh group and state dir."""
    state = tmp_path_factory.mktemp("state")
    return {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NEWSSTREAM_STATE_DIR": str(state),
        "NEWSSTREAM_CONSUMER_GROUP": f"test-{uuid.uuid4().hex[:8]}",
        "NEWSSTREAM_PRODUCER_LINGER_MS": "0",
    }


@pytest.fixture(scope="module")
def stream_settings(stream_env: dict[str, str]) -> Settings:
    overrides = {k.removeprefix("NEWSSTREAM_").lower(): v for k, v in stream_env.items()}
    return load_settings(**overrides)


@pytest.fixture(scope="module")
def stream_topology(stream_settings: Settings) -> Topology:
    from streams.classify import load_taxonomy

    topo = build_topology(stream_settings, load_taxonomy().topic_names())
    asyncio.run(check_topics(stream_settings, topo, create=True))
    asyncio.run(start_groups_at_end(stream_settings, topo))
    return topo


async def start_groups_at_end(settings: Settings, topology: Topology) -> None:
    """Commit this module's fresh worker and sink groups at the end of their inputs: the
    session's broker holds every earlier module's records, which a new group would otherwise
    read from the beginning (``auto_offset_reset`` earliest) before this module's own."""
    from streams.kafka.admin import start_group_at_end
    from streams.processes.sink import INPUTS as SINK_INPUTS

    worker_inputs = [row.input for row in topology.stages]
    await start_group_at_end(settings, topology, settings.consumer_group, worker_inputs)
    await start_group_at_end(
        settings, topology, f"{settings.consumer_group}-sink", list(SINK_INPUTS)
    )


def fresh_worker_group(settings: Settings, topology: Topology, prefix: str) -> str:
    """A new worker group for a test of its own, committed at the end of the worker's inputs.
    Workers of a second group share the stage topics with the module's worker: one reading the
    session broker's earlier records from the beginning would re-run every earlier module's
    pages and flood the module worker's stages with them (a 90 s wait then times out in CI)."""
    group = f"{prefix}-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"consumer_group": group})
    asyncio.run(start_groups_at_end(own, topology))
    return group


# The children of the running module's `spawn`: a failing test's report shows their logs' tails,
# which otherwise go with the CI run's temporary directory.
_SPAWNED: list[subprocess.Popen[bytes]] = []
LOG_TAIL_LINES = 40


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for proc in _SPAWNED:
        path: Path = proc.log_path  # type: ignore[attr-defined]
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        state = "running" if proc.poll() is None else f"exited {proc.returncode}"
        tail = "\n".join(line[:400] for line in lines[-LOG_TAIL_LINES:])
        report.sections.append((f"{path.name} ({state}), last {LOG_TAIL_LINES} lines", tail))


@pytest.fixture(scope="module")
def spawn(stream_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spawn]:
    """Start `newsstream <args>` children; all are stopped (SIGTERM, then SIGKILL) at the end."""
    procs: list[subprocess.Popen[bytes]] = _SPAWNED
    logs = tmp_path_factory.mktemp("logs")

    def start(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        (port,) = free_ports(1)
        env = os.environ | stream_env | {"NEWSSTREAM_METRICS_PORT": str(port)} | (extra_env or {})
        log = (logs / f"{'-'.join(args)}-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()  # the child holds its own descriptor; ours would leak (a ResourceWarning)
        proc.metrics_port = port  # type: ignore[attr-defined]
        proc.log_path = Path(log.name)  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_child(proc)
    procs.clear()


def wait_for(
    settings: Settings, topic: str, match: Callable[[Any], bool], timeout_s: float = 90.0
) -> Any:
    """Read ``topic`` from the beginning until a record's parsed JSON matches; fail on time."""
    import orjson

    async def go() -> Any:
        # aclosing: returning from inside the loop must stop the reader's consumer now, not
        # when the generator is collected after the loop closed (a ResourceWarning then).
        reader = read_topic(settings, topic, follow=True, idle_timeout_s=timeout_s)
        async with contextlib.aclosing(reader) as records:
            async for rec in records:
                try:
                    data = orjson.loads(rec.value or b"null")
                except orjson.JSONDecodeError:
                    continue
                # Other tests (the hostile-input one) leave junk on the shared topics: a record
                # the predicate cannot even read is not the one it is waiting for.
                try:
                    found = isinstance(data, dict) and match(data)
                except (KeyError, TypeError, AttributeError):
                    found = False
                if found:
                    return data
        return None

    started = time.monotonic()
    found = asyncio.run(asyncio.wait_for(go(), timeout=timeout_s))
    assert found is not None, f"nothing matching on {topic} after {time.monotonic() - started:.0f}s"
    return found


def produce(settings: Settings, topic: str, key: bytes, value: bytes) -> tuple[int, int]:
    """Publish one message (acks=all); return its (partition, offset)."""
    from streams.kafka.clients import make_producer

    async def go() -> tuple[int, int]:
        producer = make_producer(settings)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, value, key=key)
            return meta.partition, meta.offset
        finally:
            await producer.stop()

    return asyncio.run(go())
