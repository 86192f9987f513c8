"""A group's backlog on one topic: offsets per partition and the timestamp of its oldest
unprocessed record (:class:`streams.crawl.backpressure.PartitionBacklog`).

The timestamp is read by fetching the record at the group's committed offset. That costs one
fetch (one record batch, however small the fetch size: the broker always returns the first
batch whole) per partition, and only when the committed offset has moved since the last
measurement: the reader remembers the timestamp of the offset it read last, so a stalled
group, the case that matters, costs no fetch at all. A principal refused READ on the topic
(the crawler on news.raw under ACLs) finds the timestamp with ListOffsets instead
(:func:`stamps_by_time`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from streams.crawl.backpressure import PartitionBacklog
from streams.kafka.security import aiokafka_kwargs
from streams.settings import Settings

log = logging.getLogger(__name__)
FETCH_BYTES = 16 * 1024  # only a timestamp is wanted; the broker still returns a whole batch
READ_TIMEOUT_S = 5.0


class BacklogReader:
    """``await reader.measure()`` every interval; keeps the timestamps it has read."""

    def __init__(self, settings: Settings, group: str, topic: str) -> None:
        self.settings, self.group, self.topic = settings, group, topic
        self._stamps: dict[int, tuple[int, int]] = {}  # partition -> (offset, timestamp ms)
        self.by_time = False  # no READ on the topic (ACLs): see stamps_by_time

    async def measure(self) -> list[PartitionBacklog]:
        admin = AIOKafkaAdminClient(**aiokafka_kwargs(self.settings))
        consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(self.settings),
            group_id=None,
            enable_auto_commit=False,
            # Retention may delete `first` between the offsets and the fetch: read on from
            # the new log start rather than jump to the end.
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=FETCH_BYTES,
            isolation_level="read_uncommitted",
        )
        try:  # a replica that stops cancels this anywhere, start() included
            await admin.start()
            await consumer.start()
            committed = await admin.list_consumer_group_offsets(self.group)
            # As in streams.kafka.lag: an unassigned consumer's metadata knows no topic.
            metadata = await consumer._client.fetch_all_metadata()
            parts = sorted(metadata.partitions_for_topic(self.topic) or ())
            tps = [TopicPartition(self.topic, p) for p in parts]
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            backlog = []
            for tp in tps:
                done = committed.get(tp)
                offset = done.offset if done is not None and done.offset >= 0 else None
                backlog.append(PartitionBacklog(tp.partition, starts[tp], ends[tp], offset))
            stamps = await self._stamps_of(consumer, backlog)
        finally:
            await _close(consumer, admin)
        return [
            PartitionBacklog(b.partition, b.start, b.end, b.committed, stamps.get(b.partition))
            for b in backlog
        ]

    async def _stamps_of(
        self, consumer: AIOKafkaConsumer, backlog: list[PartitionBacklog]
    ) -> dict[int, int]:
        """Timestamp (ms) of the record at ``first`` of each partition with unprocessed ones."""
        out: dict[int, int] = {}
        wanted: dict[TopicPartition, int] = {}
        for b in backlog:
            known = self._stamps.get(b.partition)
            if not b.unprocessed:
                continue
            if known is not None and known[0] == b.first:
                out[b.partition] = known[1]
            else:
                wanted[TopicPartition(self.topic, b.partition)] = b.first
        if wanted and not self.by_time:
            try:
                await self._read(consumer, dict(wanted), out)
            except TopicAuthorizationFailedError:
                log.info("no READ on %s: timestamps found by ListOffsets instead", self.topic)
                self.by_time = True
            except KafkaError as exc:  # the lag is still measured and bounds crawling
                log.warning("oldest unprocessed %s records not read: %r", self.topic, exc)
        if wanted and self.by_time:
            for tp, stamp in (await stamps_by_time(consumer, wanted)).items():
                out[tp.partition] = stamp
                self._stamps[tp.partition] = (wanted[tp], stamp)
        return out

    async def _read(
        self, consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int], out: dict[int, int]
    ) -> None:
        consumer.assign(list(wanted))
        for tp, offset in wanted.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while wanted and time.monotonic() < deadline:
            batch = await consumer.getmany(*wanted, timeout_ms=500)
            for tp, records in batch.items():
                # The first record returned can lie past `first` when that offset is a
                # transaction marker or was compacted away; its timestamp is as good.
                if records and tp in wanted:
                    offset = wanted.pop(tp)
                    out[tp.partition] = records[0].timestamp
                    self._stamps[tp.partition] = (offset, records[0].timestamp)
        if wanted:
            log.warning("no record read at the committed offset of %s", sorted(wanted))


async def stamps_by_time(
    consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Timestamp of the record at each offset in ``wanted`` without reading it: a principal
    with DESCRIBE but no READ on the topic (the crawler on news.raw) may still ask ListOffsets
    for the earliest record at or after a time T, which answers with its offset and timestamp.
    T is bisected until the answer is the record wanted. Exact when timestamps grow with
    offsets (the crawlers' clocks). Otherwise (a skewed clock) the largest timestamp seen at
    or before the offset: possibly newer than the record's own, but retention goes by the
    newest timestamp of the record's segment, which is newer still when both lie in it."""
    lo = dict.fromkeys(wanted, 0)
    hi = dict.fromkeys(wanted, int(time.time() * 1000) + 3_600_000)  # allow some clock skew
    best: dict[TopicPartition, int] = {}
    done: set[TopicPartition] = set()
    for _ in range(48):  # 2**48 ms is thousands of years: the interval closes first
        ask = {tp: (lo[tp] + hi[tp]) // 2 for tp in wanted if tp not in done and lo[tp] <= hi[tp]}
        if not ask:
            break
        found = await consumer.offsets_for_times(ask)
        for tp, t in ask.items():
            hit = found.get(tp)
            if hit is None or hit.offset > wanted[tp]:
                hi[tp] = t - 1
                continue
            if hit.offset == wanted[tp]:
                best[tp] = hit.timestamp
                done.add(tp)
            else:
                best[tp] = max(best.get(tp, hit.timestamp), hit.timestamp)
                lo[tp] = t + 1
    return best


async def _close(consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> None:
    """Close both clients even when the task is cancelled meanwhile (a stopping replica
    cancels its helpers): a stop cut short leaves a connection open."""
    closing = asyncio.ensure_future(asyncio.gather(consumer.stop(), admin.close()))
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await closing
        raise


__all__ = ["BacklogReader"]
