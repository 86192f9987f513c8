"""The project's own single-node Kafka broker (KRaft, combined broker+controller) on 127.0.0.1.

``LocalKafka(config).up()`` fetches the broker's jars with Maven once (the pom is in
``deploy/kafka``), formats KRaft storage once, starts ``java ... kafka.Kafka`` detached in its own
process group and returns only when the broker answers a metadata request. ``down()`` stops it.

State dir layout (``LocalKafkaConfig.home``)::

    server.properties   generated on every start from the config
    data/               KRaft metadata and topic partitions (``log.dirs``)
    logs/server.log     the broker's log4j2 log; logs/kafka.out is the JVM's stdout/stderr
    kafka.pid           pid of the running broker, which is also its process group id
    up.lock             held while one process starts or stops the broker
    tls/, users/        with ``secure=True`` only: CA, broker certificate, SCRAM passwords
                        (see streams/infra/_kafka_secure.py)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.infra import _kafka_setup as setup
from streams.infra._kafka_secure import SecureFiles
from streams.infra._process import (
    cmdline_contains,
    is_alive,
    port_is_free,
    read_pid,
    stop_process_group,
    tail,
)
from streams.infra._tls import write_private
from streams.infra.errors import LocalServiceError

__all__ = ["KAFKA_VERSION", "KafkaStatus", "LocalKafka", "LocalKafkaConfig"]

log = logging.getLogger(__name__)

KAFKA_VERSION = setup.KAFKA_VERSION
_LOG_TAIL_LINES = 30


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "newsstream" / f"kafka-{KAFKA_VERSION}"


@dataclass(frozen=True)
class LocalKafkaConfig:
    """Where and how the local broker runs. Ports are non-default so a developer's own Kafka on
    9092/9093 is left alone."""

    home: Path
    cache_dir: Path = field(default_factory=_default_cache_dir)
    host: str = "127.0.0.1"
    port: int = 19092
    controller_port: int = 19093
    partitions_default: int = 4
    message_max_bytes: int = 10 * 1024 * 1024
    heap: str = "512m"
    start_timeout_s: float = 90.0
    # SASL_SSL (SCRAM-SHA-512) and mutual-TLS listeners and ACLs instead of PLAINTEXT; see
    # _kafka_secure. mtls_port: the mutual-TLS listener's port (default: port + 2).
    secure: bool = False
    mtls_port: int | None = None
    # One node of a multi-node cluster (streams/infra/kafka_cluster.py); None: the whole cluster.
    quorum: setup.Quorum | None = None


@dataclass(frozen=True)
class KafkaStatus:
    """``running``: our broker process is alive; ``answering``: a metadata request to
    ``bootstrap`` succeeds (whoever serves it)."""

    running: bool
    pid: int | None
    bootstrap: str
    answering: bool


class LocalKafka:
    """Lifecycle of the local broker described by a :class:`LocalKafkaConfig`."""

    def __init__(self, config: LocalKafkaConfig) -> None:
        self.config = config
        self.home = config.home.expanduser().resolve()
        self.data_dir = self.home / "data"
        self.log_dir = self.home / "logs"
        self.props_file = self.home / "server.properties"
        self.pid_file = self.home / "kafka.pid"
        self._child: subprocess.Popen[bytes] | None = None
        self._log_marks: dict[str, int] = {}  # log sizes when the broker was spawned
        self.secure_files = SecureFiles(self.home) if config.secure else None

    @property
    def bootstrap(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    @property
    def mtls_bootstrap(self) -> str:
        """The mutual-TLS listener of a secure broker."""
        return f"{self.config.host}:{self.config.mtls_port or self.config.port + 2}"

    def fetch(self) -> Path:
        """Download the broker's jars unless cached; returns the directory holding them."""
        return setup.fetch_jars(self.config.cache_dir.expanduser())

    def up(self) -> None:
        """Start the broker and wait until it answers; a no-op when it already does."""
        started = time.monotonic()
        java = setup.require_tool("java", "install a Java 17+ runtime (Debian: openjdk-17-jre)")
        libs = self.fetch()
        fetched = time.monotonic()
        with self.exclusive():
            pid = self._our_pid()
            if pid is not None:
                self.wait_answering(pid, time.monotonic())
                log.info("local Kafka already running (pid %d) on %s", pid, self.bootstrap)
                return
            pid, formatted = self._start(java, f"{libs}/*")
        done = time.monotonic()
        log.info(
            "local Kafka %s up on %s (pid %d) in %.1f s: fetch %.1f s, format %.1f s, start %.1f s",
            KAFKA_VERSION, self.bootstrap, pid, done - started,
            fetched - started, formatted - fetched, done - formatted,
        )  # fmt: skip

    def _start(self, java: str, classpath: str) -> tuple[int, float]:
        """Format if needed, spawn, wait until answering; the pid and when formatting ended."""
        self._prepare(java, classpath)
        formatted = time.monotonic()
        pid = self._spawn(java, classpath)
        try:
            self.wait_answering(pid, formatted)
        except LocalServiceError:
            self.abandon(pid)
            raise
        return pid, formatted

    def launch(self, java: str, classpath: str) -> tuple[int, bool]:
        """Start the broker without waiting for it to answer (no node of a cluster answers
        before a majority of its controllers runs); its pid, and whether this call spawned it.
        The caller holds ``exclusive()``."""
        pid = self._our_pid()
        if pid is not None:
            return pid, False
        self._prepare(java, classpath)
        return self._spawn(java, classpath), True

    def _prepare(self, java: str, classpath: str) -> None:
        """Everything before the spawn: ports, secrets, server.properties, storage format."""
        self._check_ports()
        scram: tuple[str, ...] = ()
        if self.secure_files is not None:
            self.secure_files.prepare()
            scram = tuple(self.secure_files.scram_format_args())
        self._write_properties()
        quorum = self.config.quorum
        if setup.format_storage(
            java, classpath, self.props_file, self.data_dir, self.log_dir, scram,
            cluster_id=None if quorum is None else quorum.cluster_id,
        ):  # fmt: skip
            log.info("formatted KRaft storage in %s", self.data_dir)
        setup.remove_stale_lock(self.data_dir)

    def abandon(self, pid: int) -> None:
        """After a failed start: stop a broker that hangs; one that died needs only its pid
        file removed."""
        if is_alive(pid):
            stop_process_group(pid, 10.0, "local Kafka")
        self._forget_child()
        self.pid_file.unlink(missing_ok=True)

    def down(self, timeout_s: float = 30.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout_s``); harmless if not running."""
        with self.exclusive():
            self._stop(timeout_s)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Serialise up/down of one state dir across processes (e.g. several workers starting
        at once), so only one of them formats storage and spawns the broker."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "up.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _stop(self, timeout_s: float) -> None:
        pid = self._our_pid()
        if pid is None:
            log.info("local Kafka on %s is not running", self.bootstrap)
        else:
            stop_process_group(pid, timeout_s, "local Kafka")
        self._forget_child()
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> KafkaStatus:
        pid = self._our_pid()
        answering = setup.answers_metadata(
            self.config.host, self.config.port, timeout_s=3.0, client=self._probe_client()
        )
        return KafkaStatus(pid is not None, pid, self.bootstrap, answering)

    def _probe_client(self) -> dict[str, Any]:
        """Security arguments of the start-up probe: the admin login on a secure broker."""
        return {} if self.secure_files is None else dict(self.secure_files.admin_client_kwargs())

    def _forget_child(self) -> None:
        """Drop our handle on a broker we started once it has exited.

        Reaping it records its exit in the Popen, which otherwise leaves a zombie and warns
        (ResourceWarning) when collected. A child still running (up() without down()) is left
        to run on: it is detached on purpose.
        """
        if self._child is not None and self._child.poll() is not None:
            self._child = None

    def _our_pid(self) -> int | None:
        """The pid of our running broker; removes a pid file whose process is gone."""
        pid = read_pid(self.pid_file)
        if pid is not None and is_alive(pid) and cmdline_contains(pid, str(self.props_file)):
            return pid
        if self.pid_file.exists():
            self.pid_file.unlink()
            log.warning(
                "removed stale pid file %s: broker process %s is gone (killed or rebooted)",
                self.pid_file, pid,
            )  # fmt: skip
        return None

    def _check_ports(self) -> None:
        cfg = self.config
        kind = "SECURE_" if cfg.secure else ""
        ports = [
            ("broker", cfg.port, f"NEWSSTREAM_KAFKA_LOCAL_{kind}PORT"),
            ("controller", cfg.controller_port, f"NEWSSTREAM_KAFKA_LOCAL_{kind}CONTROLLER_PORT"),
        ]
        if cfg.quorum is not None:  # a cluster's nodes take consecutive ports from one setting
            ports = [(name, port, "NEWSSTREAM_KAFKA_LOCAL_CLUSTER_PORT") for name, port, _ in ports]
        if cfg.secure:
            port = int(self.mtls_bootstrap.rpartition(":")[2])
            ports.append(("mTLS", port, "NEWSSTREAM_KAFKA_LOCAL_SECURE_MTLS_PORT"))
        for name, port, env in ports:
            if not port_is_free(cfg.host, port):
                raise LocalServiceError(
                    f"cannot start the local Kafka: {name} port {port} on {cfg.host} is already"
                    f" in use by another process. Choose another port with {env}=<port>, or if"
                    " it is a local broker of newsstream started from another state dir, stop"
                    " it with `newsstream kafka down`"
                )

    def _write_properties(self) -> None:
        cfg = self.config
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        text = setup.server_properties(
            host=cfg.host,
            port=cfg.port,
            controller_port=cfg.controller_port,
            data_dir=self.data_dir,
            partitions_default=cfg.partitions_default,
            message_max_bytes=cfg.message_max_bytes,
            extra=(
                None
                if self.secure_files is None
                else self.secure_files.server_settings(
                    cfg.host,
                    cfg.port,
                    cfg.controller_port,
                    int(self.mtls_bootstrap.rpartition(":")[2]),
                )
            ),
            quorum=cfg.quorum,
        )
        write_private(self.props_file, text.encode())  # the secure broker's holds passwords

    def _spawn(self, java: str, classpath: str) -> int:
        heap = self.config.heap
        cmd = [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+ExitOnOutOfMemoryError",
               "-Djava.awt.headless=true", *setup.log_options(self.log_dir),
               "-cp", classpath, "kafka.Kafka", str(self.props_file)]  # fmt: skip
        self._forget_child()
        self._log_marks = {
            name: (self.log_dir / name).stat().st_size
            for name in ("kafka.out", "server.log")
            if (self.log_dir / name).is_file()
        }
        with (self.log_dir / "kafka.out").open("ab") as out:
            # Own session: the broker outlives this process (e.g. `newsstream kafka up`) and
            # a Ctrl-C in the terminal does not reach it; down() signals the whole group.
            self._child = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        pid = self._child.pid
        self.pid_file.write_text(f"{pid}\n")
        log.info("started local Kafka (pid %d); log in %s", pid, self.log_dir / "server.log")
        return pid

    def wait_answering(self, pid: int, since: float, brokers: int = 1) -> None:
        """Return once the broker answers a metadata request naming ``brokers`` brokers; raise if
        it dies or times out."""
        deadline = since + self.config.start_timeout_s
        while True:
            if not is_alive(pid):
                raise LocalServiceError(
                    f"the local Kafka (pid {pid}) died during start; fix the cause below (see"
                    f" {self.log_dir}) and run again:\n{self._log_tail()}"
                )
            if setup.answers_metadata(
                self.config.host,
                self.config.port,
                timeout_s=5.0,
                client=self._probe_client(),
                brokers=brokers,
            ):
                return
            if time.monotonic() > deadline:
                raise LocalServiceError(
                    f"the local Kafka (pid {pid}) did not answer on {self.bootstrap} within"
                    f" {self.config.start_timeout_s:.0f} s; raise start_timeout_s on a slow"
                    f" machine or see {self.log_dir}:\n{self._log_tail()}"
                )
            time.sleep(0.25)

    def _log_tail(self) -> str:
        """What this start wrote to the broker's logs (older runs' lines are left out)."""
        parts = []
        for name in ("kafka.out", "server.log"):
            path = self.log_dir / name
            text = (
                tail(path, _LOG_TAIL_LINES, self._log_marks.get(name, 0)) if path.is_file() else ""
            )
            if text.strip():
                parts.append(f"--- last lines of {path} ---\n{text}")
        return "\n".join(parts) or f"(nothing logged in {self.log_dir})"
