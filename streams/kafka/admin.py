"""Create and check the topics of ``streams.topology`` on the broker.

``create_topics`` is idempotent: existing topics are left alone (their configs are not
rewritten). ``check_topics`` is what workers run before they start: a topic with a different
partition count than the topology says would split article ids differently from the data
already on the broker, so workers refuse to start and say how to fix it. A topic this principal
may not describe (no ACL) is neither created nor checked: a process checks what it can see,
and the ACLs of its own topics are checked at start (``streams.kafka.probe``). Replication
factor and ``min.insync.replicas`` come from the topology (set per environment); a topic
created with other values is reported with a warning, not refused.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from streams.errors import TopologyError
from streams.kafka.security import aiokafka_kwargs
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
TOPIC_AUTHORIZATION_FAILED = 29
MIN_ISR = "min.insync.replicas"
_PROPAGATION_S = 3.0


@dataclass(frozen=True)
class TopicState:
    name: str
    expected_partitions: int
    actual_partitions: int | None  # None: missing on the broker, or not authorized
    authorized: bool = True  # False: this principal has no ACL to describe it
    expected_replication: int = 1
    actual_replication: int | None = None  # replicas of its first partition
    expected_min_isr: int = 1
    actual_min_isr: int | None = None  # None: not asked for (describe(configs=False))

    @property
    def ok(self) -> bool:
        return self.actual_partitions == self.expected_partitions

    @property
    def replication_ok(self) -> bool:
        """Replication as the topology states it (a min ISR that was not read counts as ok)."""
        return self.actual_replication == self.expected_replication and (
            self.actual_min_isr in (None, self.expected_min_isr)
        )

    @property
    def missing(self) -> bool:
        return self.authorized and self.actual_partitions is None


def _admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**aiokafka_kwargs(settings), request_timeout_ms=15000)


async def describe(
    settings: Settings, topology: Topology, *, configs: bool = False
) -> list[TopicState]:
    """Each topology topic as the broker has it; ``configs``: also read min.insync.replicas
    (a DescribeConfigs request, which a principal without that ACL is refused)."""
    admin = _admin(settings)
    await admin.start()
    try:
        found: dict[str, int] = {}
        replicas: dict[str, int] = {}
        refused: set[str] = set()
        for t in await admin.describe_topics([s.name for s in topology]):
            if t["error_code"] == 0:
                found[t["topic"]] = len(t["partitions"])
                if t["partitions"]:
                    replicas[t["topic"]] = len(t["partitions"][0]["replicas"])
            elif t["error_code"] == TOPIC_AUTHORIZATION_FAILED:
                refused.add(t["topic"])
        min_isr = await _min_isr(admin, sorted(found)) if configs else {}
    finally:
        await admin.close()
    return [
        TopicState(
            name=s.name,
            expected_partitions=s.partitions,
            actual_partitions=found.get(s.name),
            authorized=s.name not in refused,
            expected_replication=s.replication_factor,
            actual_replication=replicas.get(s.name),
            expected_min_isr=s.min_insync_replicas,
            actual_min_isr=min_isr.get(s.name),
        )
        for s in topology
    ]


async def _min_isr(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """min.insync.replicas of each topic the broker lets us describe the configs of."""
    if not names:
        return {}
    wanted = {MIN_ISR: ""}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, configs=wanted) for n in names]
    out: dict[str, int] = {}
    for response in await admin.describe_configs(resources):
        for code, _message, _type, name, entries in response.resources:
            for entry in entries if code == 0 else ():
                if entry[0] == MIN_ISR:
                    out[name] = int(entry[1])
    return out


async def create_topics(settings: Settings, topology: Topology) -> list[str]:
    """Create missing topics; return the names created. Existing ones are left alone."""
    missing = [s for s in await describe(settings, topology) if s.missing]
    if not missing:
        return []
    admin = _admin(settings)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster()).get("brokers", []))
        _check_brokers(settings, topology, brokers)
        new = [
            NewTopic(
                name=s.name,
                num_partitions=s.expected_partitions,
                replication_factor=topology[s.name].replication_factor,
                topic_configs=topology[s.name].configs(),
            )
            for s in missing
        ]
        response = await admin.create_topics(new, timeout_ms=30000)
        created = []
        for name, code, message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise KafkaError(f"creating topic {name} failed: error {code} {message}")
            if code == 0:
                created.append(name)
        log.info("created %d topics: %s", len(created), ", ".join(created))
        await _wait_for_leaders(admin, created)
    finally:
        await admin.close()
    return created


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 20.0
) -> None:
    """Return once every partition of ``names`` has a leader. A producer that starts on a topic
    created a moment ago otherwise meets NotLeaderForPartition retries (and their warnings)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    waiting = names
    while waiting:
        topics = await admin.describe_topics(waiting)
        waiting = [
            t["topic"]
            for t in topics
            if t["error_code"] != 0
            or not t["partitions"]
            or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if waiting and asyncio.get_running_loop().time() > deadline:
            log.warning("partitions still without a leader after %.0f s: %s", timeout_s, waiting)
            return
        if waiting:
            await asyncio.sleep(0.2)


def _check_brokers(settings: Settings, topology: Topology, brokers: int) -> None:
    """Refuse, naming the setting, a replication factor the cluster cannot place."""
    wanted = max(spec.replication_factor for spec in topology)
    if wanted == 1 < brokers:
        log.warning(
            "creating topics with replication factor 1 on %d brokers: a record is lost with its"
            " broker; set NEWSSTREAM_TOPIC_REPLICATION_FACTOR=3 and"
            " NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS=2 on a cluster",
            brokers,
        )
    if wanted > brokers:
        raise TopologyError(
            f"NEWSSTREAM_TOPIC_REPLICATION_FACTOR={wanted} but {settings.bootstrap()} has"
            f" {brokers} broker(s): lower it to at most {brokers} (1 on a single broker), or use"
            " a cluster (`newsstream kafka up --nodes 3`)"
        )


async def check_topics(settings: Settings, topology: Topology, *, create: bool = True) -> None:
    """Make sure every topic this principal may describe exists with the expected partition
    count, or raise TopologyError."""
    if create:
        await create_topics(settings, topology)
    states = await describe(settings, topology)
    # On a cluster, a broker other than the one that created them may not know the new topics
    # for a moment (metadata propagates from the controller asynchronously).
    deadline = asyncio.get_running_loop().time() + _PROPAGATION_S
    while any(s.missing for s in states) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        states = await describe(settings, topology)
    missing = [s.name for s in states if s.missing]
    if missing:
        raise TopologyError(
            f"topics missing on {settings.bootstrap()}: {', '.join(missing)}; run"
            " `newsstream topics create`"
        )
    thin = [s for s in states if s.actual_replication is not None and not s.replication_ok]
    if thin:
        log.warning(
            "replication differs from the topology's (NEWSSTREAM_TOPIC_REPLICATION_FACTOR=%d);"
            " topics create leaves existing topics alone: %s",
            settings.topic_replication_factor,
            ", ".join(f"{s.name} has {s.actual_replication}" for s in thin),
        )
    hidden = [s.name for s in states if not s.authorized]
    if hidden:
        log.info("not checked, no ACL to describe them (fine if unused): %s", ", ".join(hidden))
    wrong = [s for s in states if s.authorized and not s.ok]
    if wrong:
        detail = "; ".join(
            f"{s.name} has {s.actual_partitions} partitions, topology expects "
            f"{s.expected_partitions}"
            for s in wrong
        )
        raise TopologyError(
            f"partition count mismatch: {detail}. Set NEWSSTREAM_TOPIC_PARTITIONS to match the "
            "broker, or recreate the topics (data on them is keyed by partition count)."
        )


async def start_group_at_end(
    settings: Settings, topology: Topology, group: str, topics: list[str]
) -> None:
    """Commit ``group``'s offsets at the end of ``topics``: a fresh group then reads only what
    comes after, not a shared broker's older records (benches, test modules)."""
    from aiokafka import TopicPartition

    from streams.kafka.clients import make_consumer

    consumer = make_consumer(settings, group=group)
    await consumer.start()
    try:
        tps = [
            TopicPartition(t, p) for t in sorted(set(topics)) for p in range(topology[t].partitions)
        ]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        await consumer.commit({tp: await consumer.position(tp) for tp in tps})
    finally:
        await consumer.stop()
