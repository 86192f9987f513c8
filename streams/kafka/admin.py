"""Create and check the topics of ``streams.topology`` on the broker.

``create_topics`` is idempotent: existing topics are left alone (their configs are not
rewritten). ``check_topics`` is what workers run before they start: a topic with a different
partition count than the topology says would split article ids differently from the data
already on the broker, so workers refuse to start and say how to fix it. A topic this principal
may not describe (no ACL) is neither created nor checked: a process checks what it can see,
and the ACLs of its own topics are checked at start (``streams.kafka.probe``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.errors import TopologyError
from streams.kafka.security import aiokafka_kwargs
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
TOPIC_AUTHORIZATION_FAILED = 29


@dataclass(frozen=True)
class TopicState:
    name: str
    expected_partitions: int
    actual_partitions: int | None  # None: missing on the broker, or not authorized
    authorized: bool = True  # False: this principal has no ACL to describe it

    @property
    def ok(self) -> bool:
        return self.actual_partitions == self.expected_partitions

    @property
    def missing(self) -> bool:
        return self.authorized and self.actual_partitions is None


def _admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**aiokafka_kwargs(settings), request_timeout_ms=15000)


async def describe(settings: Settings, topology: Topology) -> list[TopicState]:
    admin = _admin(settings)
    await admin.start()
    try:
        found: dict[str, int] = {}
        refused: set[str] = set()
        for t in await admin.describe_topics([s.name for s in topology]):
            if t["error_code"] == 0:
                found[t["topic"]] = len(t["partitions"])
            elif t["error_code"] == TOPIC_AUTHORIZATION_FAILED:
                refused.add(t["topic"])
    finally:
        await admin.close()
    return [
        TopicState(s.name, s.partitions, found.get(s.name), s.name not in refused) for s in topology
    ]


async def create_topics(settings: Settings, topology: Topology) -> list[str]:
    """Create missing topics; return the names created. Existing ones are left alone."""
    missing = [s for s in await describe(settings, topology) if s.missing]
    if not missing:
        return []
    admin = _admin(settings)
    await admin.start()
    try:
        new = [
            NewTopic(
                name=s.name,
                num_partitions=s.expected_partitions,
                replication_factor=1 if _single_node(await admin.describe_cluster()) else 3,
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


def _single_node(cluster: dict[str, Any]) -> bool:
    return len(cluster.get("brokers", [])) < 3


async def check_topics(settings: Settings, topology: Topology, *, create: bool = True) -> None:
    """Make sure every topic this principal may describe exists with the expected partition
    count, or raise TopologyError."""
    if create:
        await create_topics(settings, topology)
    states = await describe(settings, topology)
    missing = [s.name for s in states if s.missing]
    if missing:
        raise TopologyError(
            f"topics missing on {settings.bootstrap()}: {', '.join(missing)}; run"
            " `newsstream topics create`"
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
