"""The pieces of a local broker's start: jars, server.properties, storage format, probe."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import fcntl
import hashlib
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient

from streams.infra._process import accepts_connections
from streams.infra.errors import LocalServiceError

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.0.1"
DEPLOY_DIR = Path(__file__).parents[2] / "deploy" / "kafka"
POM = DEPLOY_DIR / "pom.xml"
LOG4J_CONFIG = DEPLOY_DIR / "log4j2.properties"
_MVN_TIMEOUT_S = 900.0
_FORMAT_TIMEOUT_S = 120.0

T = TypeVar("T")


def require_tool(name: str, fix: str) -> str:
    """The absolute path of ``name`` on PATH, or a LocalServiceError saying how to get it."""
    found = shutil.which(name)
    if found is None:
        raise LocalServiceError(f"`{name}` is not on PATH, so the local Kafka cannot run: {fix}")
    return found


def fetch_jars(cache_dir: Path) -> Path:
    """Download the broker's jars into ``cache_dir/libs`` unless this pom's set is there."""
    libs = cache_dir / "libs"
    marker = cache_dir / ".fetched"
    # The stamp ties the cache to the pom's content: editing the pom refetches.
    stamp = f"{KAFKA_VERSION} {hashlib.sha256(POM.read_bytes()).hexdigest()[:16]}\n"
    if marker.is_file() and marker.read_text() == stamp and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = require_tool("mvn", "install Maven 3 (Debian: apt-get install maven) and Java 17+")
    require_tool("java", "install a Java 17+ runtime (Debian: openjdk-17-jre), Maven needs it")
    # Jars of another version left on the classpath would be loaded side by side.
    shutil.rmtree(libs, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    cmd = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={KAFKA_VERSION}",
           "dependency:copy-dependencies", f"-DoutputDirectory={libs}"]  # fmt: skip
    log.info("fetching Kafka %s jars with Maven into %s", KAFKA_VERSION, libs)
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalServiceError(
            f"fetching Kafka jars with Maven took over {_MVN_TIMEOUT_S:.0f} s; check that Maven"
            " Central is reachable (proxy in ~/.m2/settings.xml) and run again"
        ) from exc
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise LocalServiceError(
            f"fetching Kafka jars with Maven failed (exit {done.returncode}); check that Maven"
            f" Central is reachable (proxy in ~/.m2/settings.xml) and run again:\n{output}"
        )
    marker.write_text(stamp)
    log.info("fetched Kafka jars in %.1f s", time.monotonic() - started)
    return libs


@dataclass(frozen=True)
class Quorum:
    """One node's place in a multi-node cluster: a static KRaft voter set (every node is a
    voter and formats its storage with the cluster's id, no ``--standalone``), and the
    replication of the internal topics (``__consumer_offsets``, transaction state)."""

    node_id: int
    voters: str  # controller.quorum.voters: "1@host:port,2@host:port,..."
    cluster_id: str
    replicas: int
    min_isr: int


def server_properties(
    *,
    host: str,
    port: int,
    controller_port: int,
    data_dir: Path,
    partitions_default: int,
    message_max_bytes: int,
    extra: Mapping[str, object] | None = None,
    quorum: Quorum | None = None,
) -> str:
    """server.properties of a combined broker+controller: the whole cluster, or with
    ``quorum`` one node of a multi-node cluster; ``extra`` adds or replaces entries (the secure
    broker's listeners, TLS and SASL)."""
    node_id, replicas, min_isr = (
        (1, 1, 1) if quorum is None else (quorum.node_id, quorum.replicas, quorum.min_isr)
    )
    voters: dict[str, object] = (
        # A dynamic (KIP-853) quorum, as `StorageTool format --standalone` expects.
        {"controller.quorum.bootstrap.servers": f"{host}:{controller_port}"}
        if quorum is None
        else {"controller.quorum.voters": quorum.voters}
    )
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        **voters,
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": partitions_default,
        "default.replication.factor": replicas,
        # Also the min ISR of __consumer_offsets, which sets none of its own.
        "min.insync.replicas": min_isr,
        # With the default of 3 on one node, these internal topics never come up and consumer
        # groups / transactions hang forever.
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        # 50 offsets partitions (the default) make the first group join slow on a small machine.
        "offsets.topic.num.partitions": partitions_default,
        # The default 3 s delay exists to batch joins of a large group; it only slows tests.
        "group.initial.rebalance.delay.ms": 0,
        # Topics come from streams.topology with their settings; a typo must not create one.
        "auto.create.topics.enable": "false",
        # A restarted node is refused (DUPLICATE_BROKER_REGISTRATION) until the controller has
        # fenced its previous incarnation, which takes a whole session timeout (default 9 s).
        # Locally the heartbeat is a loopback call, so a shorter session costs nothing.
        "broker.session.timeout.ms": 4000,
        "broker.heartbeat.interval.ms": 1000,
        "message.max.bytes": message_max_bytes,
        "replica.fetch.max.bytes": message_max_bytes,
    }
    settings |= extra or {}
    lines = ["# Generated by streams/infra/kafka_local.py on every start; edits are lost."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def new_cluster_id() -> str:
    """A cluster id in Kafka's own format: 16 random bytes, URL-safe base64, no padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # Kafka rejects ids that start with '-' because they read like a command-line option.
        if not text.startswith("-"):
            return text


def format_storage(
    java: str,
    classpath: str,
    props: Path,
    data_dir: Path,
    logs: Path,
    extra_args: tuple[str, ...] = (),
    cluster_id: str | None = None,
) -> bool:
    """Format KRaft storage unless already done; True when it ran. ``extra_args`` go to the
    StorageTool (``--add-scram``: KRaft creates the first SCRAM users only this way).
    ``cluster_id``: a node of a static-quorum cluster (voters in ``props``), formatted with the
    id all its nodes share; otherwise a new single-node cluster (``--standalone``)."""
    if (data_dir / "meta.properties").is_file():
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    # A short-lived tool: the C1 compiler alone starts it noticeably faster.
    cmd = [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", *log_options(logs, "storage-format"),
           "-cp", classpath, "kafka.tools.StorageTool", "format",
           *(["--standalone"] if cluster_id is None else []),
           "-t", cluster_id or new_cluster_id(), "-c", str(props), *extra_args]  # fmt: skip
    done = subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=_FORMAT_TIMEOUT_S
    )
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise LocalServiceError(
            f"formatting KRaft storage in {data_dir} failed (exit {done.returncode}); if the"
            f" directory holds data of another cluster, remove {data_dir} and run again:\n{output}"
        )
    return True


def log_options(logs: Path, name: str = "server") -> list[str]:
    """JVM options that send log4j2 output to ``logs/<name>.log``."""
    return [
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={logs}",
        f"-Dnewsstream.log.name={name}",
    ]


def remove_stale_lock(data_dir: Path) -> None:
    """Remove the ``.lock`` a SIGKILLed broker left in its data dir, if no process holds it.

    The broker takes a POSIX record lock on the file; if we can take it, nobody else has it.
    """
    lock = data_dir / ".lock"
    if not lock.exists():
        return
    with lock.open("a+b") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise LocalServiceError(
                f"{lock} is held by a running process, yet no broker is recorded in the pid"
                " file: a broker on this state dir was started outside newsstream; stop it"
                " (pgrep -af kafka.Kafka) and run again"
            ) from exc
        fcntl.lockf(handle, fcntl.LOCK_UN)
    lock.unlink()
    log.warning("removed stale Kafka lock file %s (left by a broker that was killed)", lock)


async def _describe_cluster(
    bootstrap: str, timeout_s: float, client: Mapping[str, Any]
) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1, int(timeout_s * 1000)), **client
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        result: dict[str, Any] = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        # A fresh broker answers metadata before __consumer_offsets exists; consumer groups
        # started then log GroupCoordinatorNotAvailable errors until it does. Asking for a
        # coordinator creates the topic, and "answering" waits until a group can be served.
        await asyncio.wait_for(admin.find_coordinator("newsstream-probe"), timeout_s)
        return result
    finally:
        await admin.close()


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when called inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def answers_metadata(
    host: str,
    port: int,
    timeout_s: float = 5.0,
    client: Mapping[str, Any] | None = None,
    brokers: int = 1,
) -> bool:
    """True when a broker on (host, port) answers metadata with at least ``brokers`` brokers
    in it and serves groups; ``client``: aiokafka security arguments (the secure broker's admin
    login)."""
    if not accepts_connections(host, port, timeout_s):
        return False  # avoids aiokafka's error logging for a plainly closed port
    bootstrap = f"{host}:{port}"
    try:
        cluster = _run_coroutine(lambda: _describe_cluster(bootstrap, timeout_s, client or {}))
    except Exception as exc:  # any failure means "not answering yet"
        log.debug("metadata request to %s failed: %r", bootstrap, exc)
        return False
    return len(cluster.get("brokers") or ()) >= max(1, brokers)
