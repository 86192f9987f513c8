"""`newsstream sink`: consume news.articles and news.duplicates into PostgreSQL.

Commit order per batch: write the batch in one transaction, commit it, then commit the Kafka
offsets. A crash between the two replays the batch, which the idempotent upserts absorb.
A record that cannot be parsed is dead-lettered (published and acked) before its offset is
committed, so it is never lost and never blocks the partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from streams.app.output import DurableProducer
from streams.app.shell import dead_letter
from streams.errors import MalformedRecord
from streams.kafka.clients import make_consumer
from streams.kafka.lag import report_lag_forever
from streams.metrics import DEAD_LETTERS, END_TO_END, LAST_RECORD, RECORDS, SINK_WRITES
from streams.records import ClassifiedArticle, DuplicateEvent, SourceRef
from streams.settings import Settings
from streams.sinks.postgres import ensure_schema, insert_duplicates, upsert_articles
from streams.stages.base import Emit
from streams.topology import ARTICLES, DUPLICATES

log = logging.getLogger(__name__)
STAGE = "sink"


def _origin(msg: ConsumerRecord[bytes, bytes]) -> SourceRef:
    return SourceRef(topic=msg.topic, partition=msg.partition, offset=msg.offset)


def _parse(
    batch: list[ConsumerRecord[bytes, bytes]],
) -> tuple[list[ClassifiedArticle], list[DuplicateEvent], list[Emit]]:
    articles: list[ClassifiedArticle] = []
    dups: list[DuplicateEvent] = []
    dead: list[Emit] = []
    for msg in batch:
        try:
            if msg.topic == ARTICLES:
                articles.append(ClassifiedArticle.from_json(msg.value or b""))
            else:
                dups.append(DuplicateEvent.from_json(msg.value or b""))
        except MalformedRecord as exc:
            dead.append(
                dead_letter(STAGE, exc.reason, str(exc), msg.key, msg.value or b"", _origin(msg))
            )
            DEAD_LETTERS.labels(STAGE, exc.reason).inc()
            RECORDS.labels(STAGE, "dead_letter").inc()
    return articles, dups, dead


async def write_batch(
    conn: psycopg.AsyncConnection[tuple[Any, ...]],
    articles: list[ClassifiedArticle],
    dups: list[DuplicateEvent],
) -> None:
    async with conn.transaction():
        art_results = await upsert_articles(conn, articles)
        dup_results = await insert_duplicates(conn, dups)
    now = datetime.now(UTC)
    for art, result in zip(articles, art_results, strict=True):
        SINK_WRITES.labels("articles", result).inc()
        RECORDS.labels(STAGE, result).inc()
        if result != "unchanged":
            END_TO_END.observe(max(0.0, (now - art.fetched_at).total_seconds()))
    for result in dup_results:
        SINK_WRITES.labels("duplicates", result).inc()
        RECORDS.labels(STAGE, f"duplicate_{result}").inc()
    LAST_RECORD.labels(STAGE).set(time.time())


async def run_sink(settings: Settings, dsn: str, stop: asyncio.Event | None = None) -> None:
    """Consume until ``stop``; a lost database connection is retried with backoff (offsets
    are not committed meanwhile, so the batch is written once the database is back)."""
    stop = stop or asyncio.Event()
    group = f"{settings.consumer_group}-sink"
    output = DurableProducer(settings)
    consumer = make_consumer(settings, ARTICLES, DUPLICATES, group=group)
    await consumer.start()
    lag_task = asyncio.create_task(
        report_lag_forever(settings.bootstrap(), group, [ARTICLES, DUPLICATES])
    )
    try:
        backoff = 0.5
        while not stop.is_set():
            try:
                await _consume(settings, dsn, consumer, output, stop)
            except psycopg.OperationalError as exc:
                RECORDS.labels(STAGE, "db_retry").inc()
                SINK_WRITES.labels("articles", "error").inc()
                log.error("PostgreSQL unavailable (%s); retrying in %.1fs", exc, backoff)
                # The failed batch was read but not committed: read it again after reconnecting.
                await consumer.seek_to_committed()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
    finally:
        lag_task.cancel()
        await consumer.stop()
        await output.stop()


async def _consume(
    settings: Settings,
    dsn: str,
    consumer: AIOKafkaConsumer,
    output: DurableProducer,
    stop: asyncio.Event,
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await ensure_schema(conn)
        while not stop.is_set():
            polled = await consumer.getmany(timeout_ms=500, max_records=500)
            batch = [m for msgs in polled.values() for m in msgs]
            if not batch:
                continue
            articles, dups, dead = _parse(batch)
            if dead:
                await output.send_all(dead, stage=STAGE)
            await write_batch(conn, articles, dups)
            await consumer.commit()
