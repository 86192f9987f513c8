"""news.sources on Kafka: the sources the crawler polls, changed live.

The contract (the crawler and ``newsstream sources`` both hold to it): ``news.sources`` is
compacted; the key is the source id (UTF-8), the value the orjson of
``Source.model_dump(mode="json")``, and a tombstone (value None) removes the source. The
YAML sources file stays the seed and import format (``newsstream sources import``).

``read_sources`` reads the topic from its beginning to the end offsets seen at start;
``SourceFeed`` does the same, then follows the changes. A record that is not a source (no
key, not JSON, not a valid Source, a key that is not its id) is skipped with a log line
naming its partition and offset and a count in ``newsstream_sources_records_read_total``;
it stays on the topic, and the previous value of its key, if any, stays in force.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError
from pydantic import ValidationError

from streams.crawl.sources import Source
from streams.errors import MalformedRecord, TopologyError
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.probe import check_connection, kafka_errors
from streams.metrics import SOURCES_READ
from streams.settings import Settings
from streams.topology import SOURCES

__all__ = [
    "InvalidSourceRecord",
    "SourceFeed",
    "SourceTable",
    "decode_source",
    "encode_source",
    "put_sources",
    "read_sources",
    "remove_sources",
    "scan_sources",
]

log = logging.getLogger(__name__)
Change = tuple[str, Source | None]


class InvalidSourceRecord(MalformedRecord):
    """A record on news.sources that is not a source; ``reason`` is its metric outcome."""


def encode_source(source: Source) -> tuple[bytes, bytes]:
    """The key and value of ``source`` on news.sources."""
    return source.id.encode(), orjson.dumps(source.model_dump(mode="json"))


def decode_source(key: bytes | None, value: bytes | None) -> Change:
    """``(source id, Source)``, or ``(source id, None)`` for a tombstone; anything else raises
    InvalidSourceRecord saying what is wrong."""
    try:
        source_id = (key or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSourceRecord("the key is not UTF-8", reason="bad_key") from None
    if not source_id:
        raise InvalidSourceRecord("no key (the key must be the source id)", reason="bad_key")
    if value is None:
        return source_id, None
    try:
        raw: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidSourceRecord(f"not JSON: {exc}", reason="not_json") from None
    if not isinstance(raw, dict):
        raise InvalidSourceRecord("not a JSON object", reason="not_a_source")
    try:
        source = Source.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise InvalidSourceRecord(
            f"not a valid Source: {where}: {first['msg']}", reason="not_a_source"
        ) from None
    if source.id != source_id:
        raise InvalidSourceRecord(
            f"key {source_id!r} is not the source's id {source.id!r}", reason="key_mismatch"
        )
    return source_id, source


@dataclass
class SourceTable:
    """The live sources, built by applying news.sources records in offset order."""

    sources: dict[str, Source] = field(default_factory=dict)
    invalid: int = 0  # records skipped as not a source
    # The topic has held a record (its end offset is past 0), even if every source was
    # removed since: a fresh deployment's topic is the only one that has not.
    ever_written: bool = False

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> Change | None:
        """Apply one record; return the change it makes, or None (no change, or skipped)."""
        try:
            source_id, source = decode_source(record.key, record.value)
        except InvalidSourceRecord as exc:
            self.invalid += 1
            SOURCES_READ.labels(exc.reason).inc()
            log.warning(
                "%s partition %d offset %d skipped, not a source (%s): %s",
                record.topic,
                record.partition,
                record.offset,
                exc.reason,
                exc,
            )
            return None
        SOURCES_READ.labels("tombstone" if source is None else "source").inc()
        if source is None:
            return (source_id, None) if self.sources.pop(source_id, None) is not None else None
        if self.sources.get(source_id) == source:
            return None
        self.sources[source_id] = source
        return source_id, source


async def _produce(settings: Settings, records: list[tuple[bytes, bytes | None]]) -> int:
    """Write ``records`` to news.sources and wait for every ack (acks=all, idempotent)."""
    await check_connection(settings, topics=[SOURCES])
    producer = make_producer(settings)
    try:
        async with kafka_errors(settings):
            await producer.start()
            metadata = await producer.client.fetch_all_metadata()
            if metadata.partitions_for_topic(SOURCES) is None:
                raise _missing_topic(settings)
            futures = [await producer.send(SOURCES, value, key=key) for key, value in records]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(records)


async def put_sources(settings: Settings, sources: Iterable[Source]) -> int:
    """Add or replace ``sources`` on news.sources; return how many were written."""
    return await _produce(settings, [encode_source(s) for s in sources])


async def remove_sources(settings: Settings, ids: Iterable[str]) -> int:
    """Write a tombstone for each id (one for an id that is not there changes nothing);
    return how many were written."""
    return await _produce(settings, [(i.encode(), None) for i in dict.fromkeys(ids)])


def _missing_topic(settings: Settings) -> TopologyError:
    return TopologyError(
        f"topic {SOURCES} does not exist on {settings.bootstrap()}; run `newsstream topics create`"
    )


async def _assign_from_start(
    settings: Settings, consumer: AIOKafkaConsumer
) -> dict[TopicPartition, int]:
    """Assign every partition of news.sources from its beginning; return the end offsets."""
    metadata = await consumer._client.fetch_all_metadata()
    ids = metadata.partitions_for_topic(SOURCES)
    if ids is None:
        raise _missing_topic(settings)
    tps = [TopicPartition(SOURCES, p) for p in sorted(ids)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    return ends


class SourceFeed:
    """Follow news.sources: ``start`` reads it to the end offsets it finds, ``snapshot``
    is the sources then (and after each change ``changes`` has yielded), ``changes`` yields
    ``(id, Source)`` for an added or changed source and ``(id, None)`` for a removed one.
    A record that changes nothing (the same source again, a tombstone for an unknown id) is
    not yielded. It reads without a consumer group, so every crawler replica sees every
    source and needs only READ on the topic."""

    def __init__(self, settings: Settings, *, poll_timeout_ms: int = 500) -> None:
        self._settings = settings
        self._poll_timeout_ms = poll_timeout_ms
        self._consumer: AIOKafkaConsumer | None = None
        self.table = SourceTable()

    async def start(self) -> None:
        await check_connection(self._settings, topics=[SOURCES])
        consumer = make_consumer(self._settings, group=None)
        self._consumer = consumer
        try:
            async with kafka_errors(self._settings):
                await consumer.start()
                ends = await _assign_from_start(self._settings, consumer)
                self.table.ever_written = any(end > 0 for end in ends.values())
                while any([await consumer.position(tp) < end for tp, end in ends.items()]):
                    for record in await self._poll():
                        self.table.apply(record)
        except BaseException:
            await self.stop()
            raise
        log.info("%d sources from %s", len(self.table.sources), SOURCES)

    def snapshot(self) -> dict[str, Source]:
        return dict(self.table.sources)

    async def changes(self) -> AsyncIterator[Change]:
        """Changes after the snapshot, as they arrive, until ``stop``."""
        while self._consumer is not None:
            try:
                async with kafka_errors(self._settings):
                    records = await self._poll()
            except ConsumerStoppedError:
                return  # stop() while waiting for records
            for record in records:
                change = self.table.apply(record)
                if change is not None:
                    yield change

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _poll(self) -> list[ConsumerRecord[bytes, bytes]]:
        if self._consumer is None:
            return []
        batch = await self._consumer.getmany(timeout_ms=self._poll_timeout_ms)
        return sorted((r for part in batch.values() for r in part), key=_order)


def _order(record: ConsumerRecord[bytes, bytes]) -> tuple[int, int]:
    return record.partition, record.offset


async def scan_sources(settings: Settings) -> SourceTable:
    """news.sources from its beginning to the end offsets seen at start."""
    feed = SourceFeed(settings)
    try:
        await feed.start()
    finally:
        await feed.stop()
    return feed.table


async def read_sources(settings: Settings) -> dict[str, Source]:
    """The live sources: news.sources from its beginning to the end offsets seen at start."""
    return (await scan_sources(settings)).sources
