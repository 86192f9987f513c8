"""Read a topic from a start point up to its current end (for `tail`, `dlq`, tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.kafka.clients import make_consumer
from streams.kafka.probe import check_connection, kafka_errors
from streams.settings import Settings


async def _assign_all(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    parts = await consumer._client.fetch_all_metadata()
    ids = parts.partitions_for_topic(topic)
    if ids is None:
        raise LookupError(f"topic {topic} does not exist; run `newsstream topics create`")
    tps = [TopicPartition(topic, p) for p in sorted(ids)]
    consumer.assign(tps)
    return tps


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool = True,
    follow: bool = False,
    idle_timeout_s: float | None = None,
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Yield records. Without ``follow`` stop at the end offsets seen at start; with it, go on
    until ``idle_timeout_s`` passes without a record (forever when None). A broker that
    refuses us (TLS, login, ACL) raises KafkaAccessError naming the setting to fix."""
    await check_connection(settings, topics=[topic])
    consumer = make_consumer(settings, group=None, from_beginning=from_beginning)
    try:
        async with kafka_errors(settings):
            # Inside the try: a broker that is not there yet must not leave an unclosed consumer.
            await consumer.start()
            tps = await _assign_all(consumer, topic)
            if from_beginning:
                await consumer.seek_to_beginning(*tps)
            else:
                await consumer.seek_to_end(*tps)
            ends = await consumer.end_offsets(tps)
            idle = 0.0
            while True:
                # Fetch before the end check: a topic we may describe but not read (no READ
                # ACL) says so only in a fetch, even when it is empty.
                batch = await consumer.getmany(timeout_ms=500)
                records = [r for part in batch.values() for r in part]
                idle = 0.0 if records else idle + 0.5
                for record in records:
                    yield record
                if not follow and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                    return
                if follow and idle_timeout_s is not None and idle >= idle_timeout_s:
                    return
    finally:
        await consumer.stop()
