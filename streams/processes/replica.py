"""`newsstream crawl`: one replica of the crawler consumer group, crawling the hosts it owns.

Every replica joins the group ``<consumer_group>-crawler`` on ``news.crawl.frontier`` (keyed by
host) and so owns a set of its partitions, hence a set of hosts: only it polls the sources on
those hosts (every replica reads all of ``news.sources``) and fetches their pages. One request
walks these steps:

1. a source is due (adaptive schedule) and its host is owned: its listing is fetched (a
   conditional GET), the items selected, and those new (or due for a revisit) are sent to the
   frontier keyed by their own host, whichever replica owns it (:mod:`streams.processes.lister`);
2. the owner of that host takes the record, skips a URL its seen-set says needs no fetch, and
   fetches it politely (robots.txt, the host's turn, Retry-After, retries);
3. the page goes to ``news.raw`` (acks=all, idempotent) and only then its seen entry to
   ``news.crawl.state``; the frontier offset is committed once every record before it is done.

A rebalance: revoked partitions stop taking work, requests already on the wire finish (those
still waiting for their host's turn are cancelled and come again from the frontier), offsets
are committed. Newly assigned partitions are restored from ``news.crawl.state`` before any of
their records is handled, and their hosts get no request before one host delay after the
assignment, so politeness holds across the handover. A killed replica's hosts move after the
session timeout; its records after the last commit are delivered again, and those whose seen
entry reached Kafka are skipped. What is refetched is at most the pages between their
``news.raw`` ack and their state ack at the moment of the kill (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from streams.crawl.discover import DiscoveredItem
from streams.crawl.fetch import Fetcher, FetchPolicy, FetchResult
from streams.crawl.hosts import Politeness
from streams.crawl.memory import OffsetTracker
from streams.crawl.polite import is_transient
from streams.errors import MalformedRecord
from streams.identity import article_id
from streams.kafka.acls import crawler_group
from streams.kafka.crawlstate import read_state
from streams.kafka.deadletter import dead_letter
from streams.kafka.security import aiokafka_kwargs
from streams.kafka.sources import SourceFeed
from streams.metrics import CRAWL_FRONTIER_ITEMS, CRAWL_ITEMS, CRAWL_REBALANCES, SOURCE_FRESHNESS
from streams.processes.lister import Lister
from streams.records import FrontierItem, RawPage
from streams.settings import Settings
from streams.stage import Emit
from streams.topology import FRONTIER

log = logging.getLogger(__name__)
STAGE = "crawl"
MAX_FRONTIER_RETRIES = 3
WORK_ATTEMPTS = 3
COMMIT_EVERY_S = 1.0


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka has no types
    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.replica.revoked({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.replica.assigned({tp.partition for tp in assigned})


class Replica(Lister):
    """One crawler replica; ``await replica.run(stop)``."""

    def __init__(
        self,
        settings: Settings,
        *,
        allow: tuple[str, ...] = (),
        politeness: Politeness | None = None,
    ) -> None:
        self.fetcher = Fetcher(FetchPolicy.from_settings(settings, allow))
        super().__init__(settings, self.fetcher, politeness or Politeness.from_settings(settings))
        self.group = crawler_group(settings)
        self.consumer: AIOKafkaConsumer | None = None
        self.held: set[int] = set()  # partitions whose state is in memory
        self.trackers: dict[int, OffsetTracker] = {}
        self.committed: dict[int, int] = {}
        self.waiting: dict[int, list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
        self.in_flight: set[str] = set()
        self._last_commit = 0.0

    # --- the loop -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, feed: SourceFeed | None = None) -> None:
        await self.output.start()
        self.feed = feed or SourceFeed(self.settings)
        await self.feed.start()
        self.sources = self.feed.snapshot()
        consumer = self.consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(self.settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            max_poll_interval_ms=300_000,
            rebalance_timeout_ms=60_000,
            isolation_level="read_uncommitted",
        )
        consumer.subscribe([FRONTIER], listener=_Listener(self))
        helpers = [
            asyncio.create_task(self._follow_sources(), name="sources"),
            asyncio.create_task(self._poll_sources(stop), name="polls"),
            asyncio.create_task(self.backpressure.run(), name="lag"),
            asyncio.create_task(self._report(), name="report"),
        ]
        try:
            await consumer.start()
            while not stop.is_set():
                await self._turn(consumer)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.revoked(set(self.owned))
            await consumer.stop()
            await self.feed.stop()
            await self.fetcher.close()
            await self.output.stop()

    async def _turn(self, consumer: AIOKafkaConsumer) -> None:
        owned = [TopicPartition(FRONTIER, p) for p in self.owned]
        full = sum(len(t) for t in self.trackers.values()) >= self.settings.crawl_max_pending
        if self.backpressure.paused or full:
            consumer.pause(*owned)
        else:
            consumer.resume(*owned)
        batch = await consumer.getmany(timeout_ms=200, max_records=1000)
        for tp, records in batch.items():
            for record in records:
                self._take(tp.partition, record)
        if time.monotonic() - self._last_commit >= COMMIT_EVERY_S:
            await self.commit(self.owned)

    def _take(self, partition: int, record: ConsumerRecord[bytes, bytes]) -> None:
        if partition not in self.owned:
            self.waiting[partition].append(record)  # assigned, state not restored yet
            return
        tracker = self.trackers[partition]
        tracker.add(record.offset)
        try:
            item = FrontierItem.from_json(record.value or b"")
        except MalformedRecord as exc:
            CRAWL_FRONTIER_ITEMS.labels("malformed").inc()
            letter = dead_letter(STAGE, "malformed", str(exc), record.key, record.value, None)
            self._track(
                partition,
                record.offset,
                tracker,
                lambda: self.output.send_all([letter], stage=STAGE),
            )
            return
        self.note_pending(partition, record.offset, item.host)
        self._track(partition, record.offset, tracker, lambda: self._fetch(partition, item))

    def _track(
        self,
        partition: int,
        offset: int,
        tracker: OffsetTracker,
        work: Callable[[], Awaitable[None]],
    ) -> None:
        async def run() -> None:
            for attempt in range(1, WORK_ATTEMPTS + 1):
                try:
                    await work()
                except asyncio.CancelledError:
                    raise  # the offset stays open: the record comes again
                except Exception:
                    log.exception(
                        "frontier record %d/%d failed (attempt %d)", partition, offset, attempt
                    )
                    await asyncio.sleep(5.0 * attempt)
                else:
                    tracker.done(offset)
                    break
            # After the last failed attempt the offset stays open: no commit passes it, so the
            # record comes again after the next rebalance or restart rather than being lost.
            self.done_pending(partition, offset)

        task = asyncio.create_task(run())
        self.tasks[partition].add(task)
        task.add_done_callback(self.tasks[partition].discard)

    # --- one frontier URL -----------------------------------------------------------------
    async def _fetch(self, partition: int, item: FrontierItem) -> None:
        if item.not_before is not None:
            await asyncio.sleep(max(0.0, item.not_before.timestamp() - time.time()))
        url, now = item.canonical_url, time.time()
        self.guard(partition, item.host)
        due = self.seen.due(url, now)
        if due is None or url in self.in_flight:
            CRAWL_FRONTIER_ITEMS.labels("seen").inc()
            CRAWL_ITEMS.labels("seen").inc()
            return
        self.in_flight.add(url)
        try:
            result = await self.polite.fetch(
                item.url, etag=due.etag, last_modified=due.last_modified
            )
            self.finishing()
            if is_transient(result):
                await self._retry(item)
                return
            if result.ok:
                await self.lister.publish(to_raw_page(item, result))
                if item.published is not None:
                    SOURCE_FRESHNESS.labels(item.source_id).set(
                        max(0.0, (result.fetched_at - item.published).total_seconds())
                    )
            discovered = DiscoveredItem(
                item.url,
                item.title,
                item.published,
                item.language,
                item.item_kind,  # type: ignore[arg-type]
            )
            self.seen.mark(url, item.source_id, discovered, now, result)
            await self.write_state("seen", url, self.seen.entry(url) or {})
            CRAWL_FRONTIER_ITEMS.labels("fetched" if result.ok else result.outcome).inc()
        finally:
            self.in_flight.discard(url)

    async def _retry(self, item: FrontierItem) -> None:
        """A transient failure goes back on the frontier with a backoff, a few times; after
        that the URL stays unmarked, so its source sends it again at the next revisit."""
        if item.attempt >= MAX_FRONTIER_RETRIES:
            CRAWL_FRONTIER_ITEMS.labels("failed").inc()
            return
        wait = min(self.politeness.backoff_max_s, 10.0 * 4**item.attempt)
        later = item.model_copy(
            update={
                "attempt": item.attempt + 1,
                "not_before": datetime.fromtimestamp(time.time() + wait, UTC),
            }
        )
        emit = Emit(FRONTIER, item.host.encode(), later.to_json())
        await self.output.send_all([emit], stage=STAGE)
        CRAWL_FRONTIER_ITEMS.labels("retried").inc()

    # --- rebalances -----------------------------------------------------------------------
    async def revoked(self, partitions: set[int]) -> None:
        """Stop working on ``partitions``: cancel what has not reached its host yet, let
        requests on the wire finish (bounded), commit. Their state stays in memory until
        :meth:`assigned` says whether they come back."""
        self.owned -= partitions
        await self.drain(partitions)
        await self.commit(partitions)
        for p in partitions:
            self.waiting.pop(p, None)

    async def assigned(self, partitions: set[int]) -> None:
        CRAWL_REBALANCES.inc()
        gone, new = self.held - partitions, partitions - self.held
        self.drop(gone)
        for p in gone:
            self.trackers.pop(p, None)
            self.committed.pop(p, None)
        started = time.monotonic()
        latest, read = await read_state(self.settings, new)
        self.restore(latest.values(), new)
        for p in partitions:
            # Records are delivered again from the committed offset after every rebalance.
            self.trackers[p] = OffsetTracker()
            self.clear_pending(p)
            if p in new and self.consumer is not None:
                with contextlib.suppress(KafkaError):  # only the frontier size gauge uses it
                    done = await self.consumer.committed(TopicPartition(FRONTIER, p))
                    self.committed[p] = done if done is not None else 0
        self.held = set(partitions)
        self.owned = set(partitions)
        log.info(
            "crawler assigned %d frontier partitions %s (%d new: %d state records read in"
            " %.2fs, %d hosts)",
            len(partitions),
            sorted(partitions),
            len(new),
            read,
            time.monotonic() - started,
            len(self.known_hosts),
        )
        for p in sorted(partitions):
            for record in self.waiting.pop(p, []):
                self._take(p, record)

    async def commit(self, partitions: set[int]) -> None:
        self._last_commit = time.monotonic()
        if self.consumer is None:
            return
        offsets = {}
        for p in partitions:
            tracker = self.trackers.get(p)
            offset = tracker.committable() if tracker is not None else None
            if offset is not None and offset > self.committed.get(p, -1):
                offsets[TopicPartition(FRONTIER, p)] = offset
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            log.warning("frontier commit failed (records will come again): %s", exc)
            return
        for tp, offset in offsets.items():
            self.committed[tp.partition] = offset

    def frontier_size(self, partition: int) -> int | None:
        if self.consumer is None:
            return None
        with contextlib.suppress(IllegalStateError, KeyError):
            end: int | None = self.consumer.highwater(TopicPartition(FRONTIER, partition))
            if end is not None:
                return max(0, end - self.committed.get(partition, 0))
        return None


def to_raw_page(item: FrontierItem, result: FetchResult) -> RawPage:
    return RawPage(
        article_id=article_id(item.canonical_url),
        url=item.url,
        final_url=result.final_url,
        redirects=list(result.redirects),
        status=result.status or 200,
        fetched_at=result.fetched_at,
        source_id=item.source_id,
        discovered_via=item.discovered_via,
        content_type=result.headers.get("content-type"),
        headers=result.headers,
        body_b64=RawPage.encode_body(result.body),
        feed_title=item.title,
        feed_published=item.published,
        feed_language=item.language,
    )


__all__ = ["Replica", "to_raw_page"]
