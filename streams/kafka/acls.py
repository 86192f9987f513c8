"""Least-privilege ACLs for the processes' principals, derived from ``streams.topology``.

Each topic's ``producers`` and ``consumers`` name the stages that write and read it; a stage
runs in one process, and each process logs in as its own principal (``PRINCIPALS``). A
principal gets WRITE on the topics its stages write, READ on those they read (both imply
DESCRIBE), READ on its consumer group, and CREATE on the worker's table changelogs, which
faust declares at start. Nothing else: topics are created by an admin (``kafka up --secure``
or ``topics create``), and since Kafka 3.0 an idempotent producer needs no cluster ACL, only
WRITE on a topic (KIP-679).

aiokafka 0.14 has no ACL call in its admin client, only the protocol message, so
``apply_acls`` sends CreateAcls itself; creating an ACL that exists is a no-op on the broker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from streams.errors import NewsstreamError
from streams.kafka.security import aiokafka_kwargs
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)

# Which principal each stage of the topology runs as.
PRINCIPALS = {
    "crawl": "crawler",
    "replay": "crawler",
    "clean": "worker",
    "dedup_url": "worker",
    "dedup_hash": "worker",
    "dedup_band": "worker",
    "dedup_gather": "worker",
    "classify": "worker",
    "stories": "worker",
    "sink": "sink",
}


class Resource(IntEnum):
    """Kafka's ResourceType codes (org.apache.kafka.common.resource.ResourceType)."""

    TOPIC = 2
    GROUP = 3


class Operation(IntEnum):
    """Kafka's AclOperation codes (org.apache.kafka.common.acl.AclOperation)."""

    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8


_LITERAL = 3  # PatternType.LITERAL
_ALLOW = 3  # AclPermissionType.ALLOW


@dataclass(frozen=True, order=True)
class Acl:
    principal: str  # user name, without "User:"
    resource: Resource
    name: str
    operation: Operation

    def __str__(self) -> str:
        return f"User:{self.principal} {self.operation.name} {self.resource.name} {self.name}"


def consumer_groups(settings: Settings) -> dict[str, str]:
    """The consumer group of each principal that joins one (see processes/sink.py)."""
    return {
        "worker": settings.consumer_group,
        "sink": f"{settings.consumer_group}-sink",
        "crawler": crawler_group(settings),
    }


def crawler_group(settings: Settings) -> str:
    """The crawler replicas' group: its members share the frontier partitions (hosts)."""
    return f"{settings.consumer_group}-crawler"


def role_acls(topology: Topology, settings: Settings) -> list[Acl]:
    """Every ACL the processes need, sorted; stages outside ``PRINCIPALS`` get none."""
    acls: set[Acl] = set()
    for topic in topology:
        for stage in topic.producers:
            if stage in PRINCIPALS:
                acls.add(Acl(PRINCIPALS[stage], Resource.TOPIC, topic.name, Operation.WRITE))
                if topic.internal:  # a table changelog: faust declares it at start
                    acls.add(Acl(PRINCIPALS[stage], Resource.TOPIC, topic.name, Operation.CREATE))
        for stage in topic.consumers:
            if stage in PRINCIPALS:
                acls.add(Acl(PRINCIPALS[stage], Resource.TOPIC, topic.name, Operation.READ))
    for principal, group in consumer_groups(settings).items():
        acls.add(Acl(principal, Resource.GROUP, group, Operation.READ))
    # Backpressure: the crawler reads the workers' committed offsets on news.raw (OffsetFetch
    # needs DESCRIBE on their group, which lets it neither join nor commit). Without it the
    # crawler cannot measure their backlog and never holds back.
    acls.add(Acl("crawler", Resource.GROUP, settings.consumer_group, Operation.DESCRIBE))
    return sorted(acls)


async def apply_acls(settings: Settings, acls: list[Acl]) -> None:
    """Create ``acls`` on the broker, logged in with ``settings`` (a super user)."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings), request_timeout_ms=15000)
    await admin.start()
    try:
        for acl in acls:
            request = CreateAclsRequest(
                acl.resource,
                acl.name,
                _LITERAL,
                f"User:{acl.principal}",
                "*",
                acl.operation,
                _ALLOW,
            )
            response = await admin._send_request(request)
            for error_code, message in response.creation_responses:
                if error_code != 0:
                    raise NewsstreamError(
                        f"creating ACL {acl} failed: error {error_code} {message}; the user"
                        " in NEWSSTREAM_KAFKA_SASL_USERNAME must be a super user or hold ALTER"
                        " on the cluster"
                    )
    finally:
        await admin.close()
    log.info("%d ACLs in place for %s", len(acls), ", ".join(sorted({a.principal for a in acls})))
