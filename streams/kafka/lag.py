"""Consumer lag of a group (end offset minus committed offset) for the lag metric and alerts.

Measured from the broker's view (committed offsets), so it counts what is not yet durably
processed, which is what an on-call engineer needs to know when a stage stalls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.kafka.security import aiokafka_kwargs
from streams.metrics import CONSUMER_LAG
from streams.settings import Settings

log = logging.getLogger(__name__)


async def measure_lag(
    settings: Settings, group: str, topics: Sequence[str]
) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        # The consumer's own metadata knows no topic until it is assigned one (and
        # ``consumer.topics()`` does not fill it in): ask the cluster.
        metadata = await consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(metadata.partitions_for_topic(t) or ())
        ]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
        await admin.close()
    lags = {}
    for tp in tps:
        done = committed.get(tp)
        lags[tp] = max(0, ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0))
    return lags


async def report_lag_forever(
    settings: Settings, group: str, topics: Sequence[str], interval_s: float = 15.0
) -> None:
    """Update ``newsstream_consumer_lag`` every ``interval_s``; errors are logged, not raised."""
    while True:
        try:
            for tp, lag in (await measure_lag(settings, group, topics)).items():
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
        except (KafkaError, OSError) as exc:
            log.warning("lag measurement failed: %s", exc)
        await asyncio.sleep(interval_s)
