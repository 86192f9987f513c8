"""The crawler's Kafka side: which partition a host is on, and its state read back.

A host's frontier partition is the one Kafka's default partitioner gives its key (murmur2 of
the UTF-8 host, as the Java client and aiokafka compute it), so ``host_partition`` and a
producer sending with ``key=host`` agree. ``news.crawl.state`` has as many partitions as the
frontier and every state record is written to its host's frontier partition, so the replica
assigned frontier partition *p* restores exactly its hosts by reading state partition *p*.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2

from streams.errors import MalformedRecord
from streams.kafka.clients import make_consumer
from streams.records import CrawlState
from streams.settings import Settings
from streams.topology import CRAWL_STATE

log = logging.getLogger(__name__)

__all__ = ["host_partition", "read_state"]


def host_partition(host: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for key ``host``."""
    hashed: int = murmur2(host.encode())
    return (hashed & 0x7FFFFFFF) % partitions


async def read_state(
    settings: Settings, partitions: Iterable[int]
) -> tuple[dict[bytes, CrawlState], int]:
    """The latest state record of each key on ``partitions`` of news.crawl.state (tombstoned
    keys left out), read from the beginning to the end offsets found at start; and how many
    records were read."""
    tps = [TopicPartition(CRAWL_STATE, p) for p in sorted(set(partitions))]
    latest: dict[bytes, CrawlState] = {}
    if not tps:
        return latest, 0
    consumer = make_consumer(settings, group=None)
    await consumer.start()
    read = 0
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        waiting = {tp for tp in tps if ends[tp] > 0}
        while waiting:
            batch = await consumer.getmany(*waiting, timeout_ms=500, max_records=5000)
            for records in batch.values():
                for rec in records:
                    read += 1
                    _apply(latest, rec.key, rec.value)
            waiting = {tp for tp in waiting if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return latest, read


def _apply(latest: dict[bytes, CrawlState], key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    if value is None:
        latest.pop(key, None)
        return
    try:
        latest[key] = CrawlState.from_json(value)
    except MalformedRecord as exc:
        log.warning("%s: skipped a record that is not CrawlState: %s", CRAWL_STATE, exc)
