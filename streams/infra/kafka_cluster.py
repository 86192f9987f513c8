"""The project's local multi-node Kafka cluster (``newsstream kafka up --nodes 3``).

N combined broker+controller nodes on 127.0.0.1, each a :class:`LocalKafka` with its own state
dir, ports and ``node.id``, run from the same jars. They form a static KRaft quorum (every node
is a voter, ``controller.quorum.voters``) and format their storage with one shared cluster id.
The internal topics (``__consumer_offsets``, transaction state) get replication factor
``min(3, N)`` and min ISR one less, as production has them: with 3 nodes, any one may die
(SIGKILL included) and every acks=all write still succeeds on the other two.

No node answers before a majority of the controllers runs, so ``up()`` starts every node first
and only then waits for each to answer with all N brokers in its metadata. ``down()`` stops
them all at once: stopped one by one, the last would wait for a controller that is gone.

State dir layout (``home``)::

    cluster.id      the KRaft cluster id every node's storage is formatted with
    up.lock         held while one process starts or stops the cluster
    node1/ ...      each node's state dir (as streams/infra/kafka_local.py describes)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from streams.infra import _kafka_setup as setup
from streams.infra.errors import LocalServiceError
from streams.infra.kafka_local import KafkaStatus, LocalKafka, LocalKafkaConfig

__all__ = ["ClusterStatus", "LocalKafkaCluster", "cluster_ports", "cluster_replication"]

log = logging.getLogger(__name__)


def cluster_replication(nodes: int) -> tuple[int, int]:
    """(replication factor, min ISR) of a cluster of ``nodes``: 3 and 2 from three nodes on,
    so one node can be lost without refusing acks=all writes."""
    replicas = min(3, nodes)
    return replicas, max(1, replicas - 1)


def cluster_ports(first_port: int, nodes: int) -> list[tuple[int, int]]:
    """(client port, controller port) of node 1..N: consecutive pairs from ``first_port``."""
    return [(first_port + 2 * i, first_port + 2 * i + 1) for i in range(nodes)]


@dataclass(frozen=True)
class ClusterStatus:
    """``answering``: every node runs and answers."""

    bootstrap: str
    answering: bool
    nodes: list[KafkaStatus]


class LocalKafkaCluster:
    """Lifecycle of N local nodes; ``base`` gives what every node shares (host, heap, jars)."""

    def __init__(
        self, home: Path, ports: Sequence[tuple[int, int]], base: LocalKafkaConfig
    ) -> None:
        if len(ports) < 2:
            raise ValueError("a cluster has two nodes or more; one node is LocalKafka")
        self.home = home.expanduser().resolve()
        self.ports = list(ports)
        self.base = base
        self.nodes = self._make_nodes(self._stored_id() or "")

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def replication(self) -> tuple[int, int]:
        return cluster_replication(len(self.nodes))

    def node_by_id(self, node_id: int) -> LocalKafka:
        """The node with this ``node.id`` (1..N), as metadata names leaders."""
        return self.nodes[node_id - 1]

    def up(self) -> None:
        """Start every node that is not running, then wait until all answer; a no-op when they
        do. If one cannot start, the nodes this call started are stopped again."""
        started = time.monotonic()
        java = setup.require_tool("java", "install a Java 17+ runtime (Debian: openjdk-17-jre)")
        classpath = f"{setup.fetch_jars(self.base.cache_dir.expanduser())}/*"
        with self._exclusive():
            self.nodes = self._make_nodes(self._cluster_id())
            with contextlib.ExitStack() as locks:
                for node in self.nodes:
                    locks.enter_context(node.exclusive())
                self._start(java, classpath)
        log.info(
            "local Kafka cluster of %d nodes up on %s in %.1f s",
            len(self.nodes), self.bootstrap, time.monotonic() - started,
        )  # fmt: skip

    def _start(self, java: str, classpath: str) -> None:
        running: list[tuple[LocalKafka, int]] = []
        spawned: list[tuple[LocalKafka, int]] = []
        try:
            for node in self.nodes:
                pid, new = node.launch(java, classpath)
                running.append((node, pid))
                if new:
                    spawned.append((node, pid))
            since = time.monotonic()
            for node, pid in running:
                node.wait_answering(pid, since, brokers=len(self.nodes))
        except LocalServiceError:
            for node, pid in spawned:
                node.abandon(pid)
            raise

    def down(self, timeout_s: float = 30.0) -> None:
        """Stop every node at once (SIGTERM, then SIGKILL after ``timeout_s``); harmless if
        none runs."""
        with self._exclusive(), ThreadPoolExecutor(len(self.nodes)) as pool:
            for done in [pool.submit(node.down, timeout_s) for node in self.nodes]:
                done.result()

    def status(self) -> ClusterStatus:
        nodes = [node.status() for node in self.nodes]
        answering = all(st.running and st.answering for st in nodes)
        return ClusterStatus(self.bootstrap, answering, nodes)

    def _make_nodes(self, cluster_id: str) -> list[LocalKafka]:
        replicas, min_isr = cluster_replication(len(self.ports))
        host = self.base.host
        voters = ",".join(f"{i}@{host}:{ctl}" for i, (_, ctl) in enumerate(self.ports, 1))
        return [
            LocalKafka(
                replace(
                    self.base,
                    home=self.home / f"node{i}",
                    port=port,
                    controller_port=ctl,
                    quorum=setup.Quorum(i, voters, cluster_id, replicas, min_isr),
                )
            )
            for i, (port, ctl) in enumerate(self.ports, 1)
        ]

    def _stored_id(self) -> str | None:
        path = self.home / "cluster.id"
        return path.read_text().strip() if path.is_file() else None

    def _cluster_id(self) -> str:
        """The cluster's id, made on its first start; its nodes' storage carries it."""
        found = self._stored_id()
        if found:
            return found
        made = setup.new_cluster_id()
        (self.home / "cluster.id").write_text(made + "\n")
        return made

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One up/down of this cluster at a time, across processes (as LocalKafka's)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "up.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
