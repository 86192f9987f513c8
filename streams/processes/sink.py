"""`newsstream sink`: consume news.articles, news.duplicates and news.stories into PostgreSQL.

Commit order per batch: dead-letter what cannot be parsed (acked by Kafka), write the rest in
one PostgreSQL transaction, and only after its COMMIT commit the Kafka offsets. A crash between
the two replays the batch, which the idempotent upserts absorb.

PostgreSQL down: the batch in hand is kept and retried with backoff (``sink_backoff_base_s``,
0.5 s, doubling to ``sink_backoff_max_s``, 30 s)
while the partitions are paused, so the consumer stays in its group without reading ahead;
nothing is committed meanwhile. When the database is back the same batch is written and the
stream resumes where it stopped: nothing lost, nothing written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

from streams.errors import MalformedRecord
from streams.health import HEALTH
from streams.kafka.clients import make_consumer
from streams.kafka.deadletter import dead_letter, replays_of
from streams.kafka.lag import report_lag_forever
from streams.kafka.outage import BrokerWatch
from streams.kafka.probe import check_connection
from streams.kafka.producer import DurableProducer
from streams.metrics import (
    DEAD_LETTERS,
    LAST_RECORD,
    RECORDS,
    SINK_UP,
    SINK_WRITE_SECONDS,
    SINK_WRITES,
)
from streams.records import ClassifiedArticle, DuplicateEvent, SourceRef, StorySummary
from streams.settings import Settings
from streams.sinks.observe import observe_batch
from streams.sinks.postgres import TRANSIENT_ERRORS, BatchResult, connect, write_batch
from streams.stage import Emit
from streams.topology import ARTICLES, DLQ, DUPLICATES, STORIES

INPUTS = (ARTICLES, DUPLICATES, STORIES)

log = logging.getLogger(__name__)
STAGE = "sink"
Message: TypeAlias = ConsumerRecord[bytes, bytes]


def _origin(msg: Message) -> SourceRef:
    return SourceRef(topic=msg.topic, partition=msg.partition, offset=msg.offset)


def _letter(msg: Message, reason: str, error: str) -> Emit:
    DEAD_LETTERS.labels(STAGE, reason).inc()
    RECORDS.labels(STAGE, "dead_letter").inc()
    return dead_letter(
        STAGE,
        reason,
        error,
        msg.key,
        msg.value or b"",
        _origin(msg),
        replays=replays_of(msg.headers),
    )


@dataclass(frozen=True)
class SinkConfig:
    """How the sink batches and how it waits out PostgreSQL; defaults are the production values."""

    batch_max_records: int = 500
    poll_timeout_ms: int = 500
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    @classmethod
    def from_settings(cls, s: Settings) -> SinkConfig:
        return cls(
            batch_max_records=s.sink_batch_max_records,
            poll_timeout_ms=s.sink_poll_timeout_ms,
            backoff_base_s=s.sink_backoff_base_s,
            backoff_max_s=s.sink_backoff_max_s,
        )


class Batch:
    """One poll's records, parsed; each record remembers its message for dead-lettering.
    With ``desks``, an article naming a desk the taxonomy lacks is dead-lettered
    (``unknown_topic``): downstream queries by desk would never find it, or find junk."""

    def __init__(self, messages: list[Message], desks: frozenset[str] | None = None) -> None:
        self.articles: list[tuple[Message, ClassifiedArticle]] = []
        self.duplicates: list[tuple[Message, DuplicateEvent]] = []
        self.stories: list[tuple[Message, StorySummary]] = []
        self.dead: list[Emit] = []
        for msg in messages:
            try:
                if msg.topic == ARTICLES:
                    article = ClassifiedArticle.from_json(msg.value or b"")
                    unknown = sorted(set(article.topics) - desks) if desks is not None else []
                    if unknown:
                        raise MalformedRecord(
                            f"topics {unknown} are not desks of the taxonomy",
                            reason="unknown_topic",
                        )
                    self.articles.append((msg, article))
                elif msg.topic == STORIES:
                    self.stories.append((msg, StorySummary.from_json(msg.value or b"")))
                else:
                    self.duplicates.append((msg, DuplicateEvent.from_json(msg.value or b"")))
            except MalformedRecord as exc:
                self.dead.append(_letter(msg, exc.reason, str(exc)))

    def __len__(self) -> int:
        return len(self.articles) + len(self.duplicates) + len(self.stories)


class Sink:
    def __init__(
        self, settings: Settings, dsn: str, stop: asyncio.Event, config: SinkConfig | None = None
    ) -> None:
        from streams.classify import load_taxonomy  # the desk names only: no model

        self.settings = settings
        self.config = config if config is not None else SinkConfig.from_settings(settings)
        self.desks = frozenset(load_taxonomy().topic_names())
        self.dsn = dsn
        self.stop = stop
        self.group = f"{settings.consumer_group}-sink"
        self.consumer: AIOKafkaConsumer = make_consumer(settings, *INPUTS, group=self.group)
        self.output = DurableProducer(settings)
        self.conn: asyncpg.Connection | None = None

    async def run(self) -> None:
        await check_connection(
            self.settings, topics=[*INPUTS, DLQ], group=self.group
        )  # one clear line for a refused login, certificate or ACL
        await self.consumer.start()
        lag = asyncio.create_task(report_lag_forever(self.settings, self.group, list(INPUTS)))
        watch = asyncio.create_task(BrokerWatch(self.settings.bootstrap()).run_forever())
        try:
            await self._connect_early()
            while not self.stop.is_set():
                HEALTH.beat(STAGE)
                polled = await self.consumer.getmany(
                    timeout_ms=self.config.poll_timeout_ms,
                    max_records=self.config.batch_max_records,
                )
                messages = [m for msgs in polled.values() for m in msgs]
                if messages and await self._handle(Batch(messages, self.desks)):
                    await self._commit()
        finally:
            lag.cancel()
            watch.cancel()
            await self._close()
            await self.consumer.stop()
            await self.output.stop()
            HEALTH.forget(STAGE)

    async def _commit(self) -> None:
        try:
            await self.consumer.commit()
        except KafkaError as exc:
            # A rebalance took partitions away mid-batch: their new owner re-reads from the
            # last commit and the upserts absorb the repeat; nothing is lost.
            log.warning("offset commit failed (%s); the batch will be re-read idempotently", exc)

    async def _handle(self, batch: Batch) -> bool:
        """Make the batch durable; False if stopped before it was (nothing to commit)."""
        if batch.dead:
            await self.output.send_all(batch.dead, stage=STAGE)
        if not len(batch):
            return True
        result = await self._write_until_durable(batch)
        if result is None:
            return False
        observe_batch(result, datetime.now(UTC))
        LAST_RECORD.labels(STAGE).set(time.time())
        return True

    async def _write_until_durable(self, batch: Batch) -> BatchResult | None:
        backoff = self.config.backoff_base_s
        articles = [a for _, a in batch.articles]
        dups = [d for _, d in batch.duplicates]
        stories = [s for _, s in batch.stories]
        while not self.stop.is_set():
            try:
                conn = await self._connection()
                started = time.perf_counter()
                result = await write_batch(conn, articles, dups, stories)
                SINK_WRITE_SECONDS.observe(time.perf_counter() - started)
                return result
            except TRANSIENT_ERRORS as exc:
                await self._lost_database(exc, backoff)
                backoff = min(backoff * 2, self.config.backoff_max_s)
            except asyncpg.PostgresError as exc:
                # The data, not the database: find the records PostgreSQL refuses, one by one.
                log.warning("batch refused by PostgreSQL (%s); writing record by record", exc)
                return await self._write_one_by_one(batch)
        return None

    async def _connect_early(self) -> None:
        """Migrate and report ready before the first record; an unreachable database is
        retried when the first batch needs it."""
        try:
            await self._connection()
        except TRANSIENT_ERRORS as exc:
            SINK_UP.set(0)
            HEALTH.set_ready(STAGE, False, f"PostgreSQL unavailable: {type(exc).__name__}")
            log.error("PostgreSQL unavailable at start (%s); will retry", exc)

    async def _connection(self) -> asyncpg.Connection:
        if self.conn is None or self.conn.is_closed():
            self.conn = await connect(self.dsn)
            SINK_UP.set(1)
            HEALTH.set_ready(STAGE, True, "connected to PostgreSQL")
            self.consumer.resume(*self.consumer.assignment())
        return self.conn

    async def _lost_database(self, exc: BaseException, backoff: float) -> None:
        SINK_UP.set(0)
        SINK_WRITES.labels("articles", "error").inc()
        HEALTH.set_ready(STAGE, False, f"PostgreSQL unavailable: {type(exc).__name__}")
        log.error("PostgreSQL unavailable (%s); retrying the batch in %.1fs", exc, backoff)
        await self._close()
        # Paused partitions return nothing, but polling keeps the consumer in its group
        # (max.poll.interval) during a long outage; the batch in hand is all we need.
        self.consumer.pause(*self.consumer.assignment())
        deadline = time.monotonic() + backoff
        while time.monotonic() < deadline and not self.stop.is_set():
            HEALTH.beat(STAGE)
            wait_ms = min(self.config.poll_timeout_ms, int(backoff * 1000))
            polled = await self.consumer.getmany(timeout_ms=wait_ms)
            for tp, msgs in polled.items():
                # Only a partition assigned by a rebalance during the outage is unpaused: put
                # it back, so the next commit cannot pass records that were never written.
                self.consumer.seek(tp, msgs[0].offset)
                self.consumer.pause(tp)

    async def _write_one_by_one(self, batch: Batch) -> BatchResult | None:
        result, dead = BatchResult(), []
        pairs: list[tuple[Message, ClassifiedArticle | DuplicateEvent | StorySummary]] = [
            *batch.articles,
            *batch.duplicates,
            *batch.stories,
        ]
        for msg, record in pairs:
            arts = [record] if isinstance(record, ClassifiedArticle) else []
            dups = [record] if isinstance(record, DuplicateEvent) else []
            stories = [record] if isinstance(record, StorySummary) else []
            try:
                one = await write_batch(await self._connection(), arts, dups, stories)
            except TRANSIENT_ERRORS:
                return None if self.stop.is_set() else await self._write_until_durable(batch)
            except asyncpg.PostgresError as exc:
                table = "articles" if arts else "duplicates" if dups else "stories"
                SINK_WRITES.labels(table, "rejected").inc()
                dead.append(_letter(msg, "storage_rejected", f"{type(exc).__name__}: {exc}"))
                continue
            result.articles += one.articles
            result.duplicates += one.duplicates
            result.stories += one.stories
        if dead:
            await self.output.send_all(dead, stage=STAGE)
        return result

    async def _close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):  # a broken connection cannot close politely
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()


async def run_sink(settings: Settings, dsn: str, stop: asyncio.Event | None = None) -> None:
    """Consume until ``stop`` is set (SIGTERM in the CLI)."""
    HEALTH.set_ready(STAGE, False, "not connected yet")
    await Sink(settings, dsn, stop or asyncio.Event()).run()
