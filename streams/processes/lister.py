"""The crawler replica's memory and its source polls (the frontier side is in ``replica``).

State: the seen-set, each source's schedule and :class:`SourceMemory`, robots.txt entries and
host pauses, kept for the frontier partitions this replica holds and written to
``news.crawl.state`` as they change (see :mod:`streams.crawl.memory`). Polls: a due source on
an owned host is fetched, and what it lists goes to the frontier keyed by each item's host.
Backpressure: while the workers' lag on ``news.raw`` is above ``crawl_max_raw_lag``, or their
oldest unprocessed record is older than ``crawl_max_raw_age_fraction`` of the topic's retention
(:mod:`streams.processes.holdback`), no poll starts and the frontier is not read
(``newsstream_crawl_backpressure`` = 1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from streams.crawl.discover import DiscoveryError
from streams.crawl.fetch import Fetcher, Kind
from streams.crawl.frontier import Candidate
from streams.crawl.hosts import Politeness, host_key
from streams.crawl.memory import HostStats, SourceMemory, state_key, state_record
from streams.crawl.polite import PoliteFetcher
from streams.crawl.schedule import ScheduleConfig, SourceSchedule
from streams.crawl.seen import SeenStore
from streams.crawl.sources import Source
from streams.kafka.crawlstate import host_partition
from streams.kafka.producer import DurableProducer
from streams.kafka.sources import SourceFeed
from streams.metrics import (
    CRAWL_BUDGET_RATIO,
    CRAWL_FRONTIER_AGE,
    CRAWL_FRONTIER_ITEMS,
    CRAWL_FRONTIER_SIZE,
    CRAWL_HOST_GAP,
    CRAWL_HOSTS_OWNED,
    CRAWL_HOSTS_STARVED,
    CRAWL_STATE_RECORDS,
)
from streams.processes.holdback import RawBackpressure
from streams.processes.poll import Crawler
from streams.records import CrawlState, FrontierItem
from streams.settings import Settings
from streams.stage import Emit
from streams.topology import CRAWL_STATE, FRONTIER

log = logging.getLogger(__name__)
STAGE = "crawl"
REVISIT_WINDOW_S = 6 * 3600.0  # as SeenStore: news pages are edited in their first hours
PRUNE_EVERY_S = 600.0
BATCH_BYTES = 1024 * 1024  # hundreds of pages and state records a second share few batches


class Lister:
    def __init__(self, settings: Settings, fetcher: Fetcher, politeness: Politeness) -> None:
        self.settings, self.politeness = settings, politeness
        self.partitions = settings.crawl_partitions
        self.output = DurableProducer(settings, batch_bytes=BATCH_BYTES)
        self.seen = SeenStore(None, revisit_interval_s=settings.crawl_revisit_interval_s)
        self.schedule = SourceSchedule(
            ScheduleConfig(initial_interval_s=settings.crawl_poll_interval_s)
        )
        self.memory: dict[str, SourceMemory] = {}
        self.polite = PoliteFetcher(
            fetcher, politeness=politeness, max_in_flight=settings.crawl_max_in_flight
        )
        self.lister = Crawler(settings, fetcher, self.output, self.seen, polite=self.polite)
        self.feed: SourceFeed | None = None
        self.sources: dict[str, Source] = {}
        self.owned: set[int] = set()  # restored, taking work
        self.acquired: dict[int, float] = {}
        self.guarded: dict[int, set[str]] = defaultdict(set)
        self.robots_delay: dict[str, float] = {}
        self.tasks: dict[int, set[asyncio.Task[None]]] = defaultdict(set)
        self.requesting: set[asyncio.Task[object]] = set()  # tasks whose request has started
        self.polls: dict[str, asyncio.Task[None]] = {}
        self.pending: dict[int, dict[int, tuple[str, float]]] = defaultdict(dict)
        self.known_hosts: set[str] = set()
        self.stats = HostStats()
        self.backpressure = RawBackpressure(settings)
        self._host_parts: dict[str, int] = {}
        self.polite.hosts.on_start = self._started
        self.polite.hosts.on_end = self._ended
        self.polite.hosts.on_pause = self._paused
        self.polite.robots.on_load = self._robots_loaded

    # --- ownership ------------------------------------------------------------------------
    def partition_of(self, host: str) -> int:
        p = self._host_parts.get(host)
        if p is None:
            if len(self._host_parts) > 100_000:
                self._host_parts.clear()
            p = self._host_parts[host] = host_partition(host, self.partitions)
        return p

    def guard(self, partition: int, host: str) -> None:
        """A host just taken over gets its first request one delay after the assignment: the
        previous owner stopped before we were assigned, so the gap is at least that."""
        if host in self.guarded[partition]:
            return
        self.guarded[partition].add(host)
        delay = max(self.politeness.min_delay_s, self.robots_delay.get(host, 0.0))
        self.polite.hosts.hold(host, self.acquired.get(partition, 0.0) + delay)

    def restore(self, records: Iterable[CrawlState], partitions: set[int]) -> None:
        now, mono = time.time(), time.monotonic()
        for p in partitions:
            self.acquired[p] = mono
            self.guarded[p] = set()
        for rec in records:
            if rec.expires_at is not None and rec.expires_at <= now:
                CRAWL_STATE_RECORDS.labels(rec.entry, "expired").inc()
                continue
            CRAWL_STATE_RECORDS.labels(rec.entry, "restored").inc()
            self.known_hosts.add(rec.host)
            if rec.entry == "seen":
                self.seen.put(rec.name, rec.data)
            elif rec.entry == "source":
                self.memory[rec.name] = SourceMemory.from_json(rec.data.get("memory", {}))
                self.schedule.restore(rec.name, rec.data["schedule"], mono, now)
            elif rec.entry == "robots":
                ttl = (rec.expires_at or now) - now
                self.polite.robots.preload(rec.name, rec.data, ttl)
                if rec.data.get("delay"):
                    self.robots_delay[rec.host] = float(rec.data["delay"])
            elif rec.entry == "backoff" and rec.expires_at is not None:
                self.polite.hosts.pause_host(rec.host, mono + rec.expires_at - now)

    def drop(self, partitions: set[int]) -> None:
        """Forget the state of hosts on ``partitions`` (another replica owns them now)."""
        if not partitions:
            return

        def keep(url: str) -> bool:
            return self.partition_of(host_key(url)) not in partitions

        self.seen.drop(keep)
        self.polite.robots.forget(keep)
        for sid in [s for s, src in self.sources.items() if not keep(src.url)]:
            self.memory.pop(sid, None)
            self.schedule.forget(sid)
        self.known_hosts = {h for h in self.known_hosts if self.partition_of(h) not in partitions}
        self.stats.forget(self.known_hosts)
        for p in partitions:
            self.guarded.pop(p, None)
            self.pending.pop(p, None)

    async def write_state(
        self, entry: str, name: str, data: dict[str, object], *, ttl_s: float | None = None
    ) -> None:
        rec = state_record(entry, name, data, ttl_s=ttl_s)
        await self._send_state(rec.entry, rec.host, rec.name, rec.to_json())
        CRAWL_STATE_RECORDS.labels(entry, "written").inc()

    async def _send_state(self, entry: str, host: str, name: str, value: bytes | None) -> None:
        key = state_key(entry, host, name)
        part = self.partition_of(host)
        emit = Emit(CRAWL_STATE, key, value, partition=part)  # type: ignore[arg-type]
        await self.output.send_all([emit], stage=STAGE)

    # --- hooks from the fetch path --------------------------------------------------------
    def _started(self, host: str, now: float, delay_s: float) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.requesting.add(task)
            task.add_done_callback(self.requesting.discard)
        gap = self.stats.started(host, now, delay_s)
        if gap is not None:
            CRAWL_HOST_GAP.observe(gap)

    def _ended(self, _host: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.requesting.discard(task)  # waiting for another turn: a revoke may cancel it

    def finishing(self) -> None:
        """The current task's request is done; publishing its outcome must not be cut short
        by a revoke (the page would be fetched again by the next owner)."""
        task = asyncio.current_task()
        if task is not None:
            self.requesting.add(task)
            task.add_done_callback(self.requesting.discard)

    def _paused(self, host: str, seconds: float) -> None:
        rec = state_record("backoff", host, {}, host=host, ttl_s=seconds)
        self._spawn_write(rec)

    def _robots_loaded(self, origin: str, data: dict[str, object], ttl_s: float) -> None:
        host = host_key(origin)
        if data.get("delay"):
            self.robots_delay[host] = float(data["delay"])  # type: ignore[arg-type]
        self._spawn_write(state_record("robots", origin, data, host=host, ttl_s=ttl_s))

    def _spawn_write(self, rec: CrawlState) -> None:
        part = self.partition_of(rec.host)
        work = self._send_state(rec.entry, rec.host, rec.name, rec.to_json())
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.tasks[part].add(task)
        self.requesting.add(task)  # a revoke waits for it rather than cancelling it
        task.add_done_callback(self.requesting.discard)
        task.add_done_callback(self.tasks[part].discard)

    # --- pending frontier URLs (metrics) --------------------------------------------------
    def note_pending(self, partition: int, offset: int, host: str) -> None:
        self.pending[partition][offset] = (host, time.time())
        self.known_hosts.add(host)

    def done_pending(self, partition: int, offset: int) -> None:
        self.pending.get(partition, {}).pop(offset, None)

    def clear_pending(self, partition: int) -> None:
        self.pending[partition] = {}

    async def drain(self, partitions: set[int], timeout_s: float | None = None) -> None:
        """Cancel the work of ``partitions`` that has not reached its host; wait (bounded) for
        the rest: its page is published and its state written before the offset moves."""
        timeout = timeout_s if timeout_s is not None else self.settings.fetch_total_timeout_s + 5
        for sid, poll in list(self.polls.items()):
            source = self.sources.get(sid)
            mine = source is None or self.partition_of(host_key(source.url)) in partitions
            if mine and poll not in self.requesting:
                poll.cancel()
        tasks = [t for p in partitions for t in self.tasks.get(p, set())]
        waiting = [t for t in tasks if t not in self.requesting]
        for task in waiting:
            task.cancel()
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)
                log.warning("%d fetches cut short by a rebalance; they come again", len(late))

    # --- source polls ---------------------------------------------------------------------
    async def _follow_sources(self) -> None:
        assert self.feed is not None
        async for sid, source in self.feed.changes():
            if source is None:
                self.sources.pop(sid, None)
                log.info("source %s removed", sid)
            else:
                self.sources[sid] = source
                self.schedule.set_bounds(sid, source.min_interval_s, source.max_interval_s)
                log.info("source %s added or changed", sid)

    async def _poll_sources(self, stop: asyncio.Event) -> None:
        for sid, source in self.sources.items():
            self.schedule.set_bounds(sid, source.min_interval_s, source.max_interval_s)
        while not stop.is_set():
            if not self.backpressure.paused:
                now = time.monotonic()
                for sid, source in list(self.sources.items()):
                    if sid in self.polls or self.schedule.state(sid).next_due > now:
                        continue
                    part = self.partition_of(host_key(source.url))
                    if part in self.owned:
                        self.guard(part, host_key(source.url))
                        task = asyncio.create_task(self._poll(source), name=f"poll-{sid}")
                        self.polls[sid] = task
                        self.tasks[part].add(task)
                        task.add_done_callback(self.tasks[part].discard)
                        task.add_done_callback(self._poll_done(sid))
            await asyncio.sleep(0.25)

    def _poll_done(self, sid: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(task: asyncio.Task[None]) -> None:
            if self.polls.get(sid) is task:
                del self.polls[sid]
            if not task.cancelled() and task.exception() is not None:
                log.error("poll of %s crashed", sid, exc_info=task.exception())
                self.schedule.failed(sid, "crash", time.monotonic())

        return forget

    async def _poll(self, source: Source) -> None:
        mem = self.memory.setdefault(source.id, SourceMemory())
        kind: Kind = "page" if source.kind == "section" else "feed"
        listing = await self.polite.fetch(
            source.url, kind=kind, etag=mem.etag, last_modified=mem.last_modified
        )
        self.finishing()
        now, failure = time.time(), None
        candidates: list[Candidate] = []
        if listing.outcome == "not_modified":
            candidates = mem.young(now, REVISIT_WINDOW_S)
        elif listing.ok:
            mem.etag = listing.headers.get("etag")
            mem.last_modified = listing.headers.get("last-modified")
            try:
                candidates = self.lister.select(
                    source, await self.lister.list_items(source, listing)
                )
            except DiscoveryError as exc:
                failure = f"unparsable {source.kind}: {exc}"
            mem.prune({c.canonical for c in candidates}, now, REVISIT_WINDOW_S)
        else:
            failure = f"{listing.outcome} ({listing.reason})"
        interval = self.settings.crawl_revisit_interval_s
        send, new = mem.to_send(candidates, now, REVISIT_WINDOW_S, interval)
        await self._send_frontier(source, send)
        if failure is not None:
            self.schedule.failed(source.id, failure, time.monotonic())
        else:
            self.schedule.succeeded(source.id, new, time.monotonic())
        schedule = self.schedule.export(source.id, time.monotonic(), time.time())
        await self.write_state("source", source.id, {"memory": mem.to_json(), "schedule": schedule})

    async def _send_frontier(self, source: Source, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        emits = []
        for cand in candidates:
            host = host_key(cand.canonical)
            item = FrontierItem(
                url=cand.item.url,
                canonical_url=cand.canonical,
                host=host,
                source_id=source.id,
                discovered_via="section" if source.kind == "section" else source.kind,
                title=cand.item.title,
                published=cand.item.published,
                language=cand.item.language or source.language,
                item_kind=cand.item.source_kind,
                discovered_at=datetime.now(UTC),
            )
            emits.append(Emit(FRONTIER, host.encode(), item.to_json()))
        await self.output.send_all(emits, stage=STAGE)
        CRAWL_FRONTIER_ITEMS.labels("sent").inc(len(emits))

    # --- backpressure and gauges ----------------------------------------------------------
    async def _report(self) -> None:
        last_prune = time.monotonic()
        while True:
            self.report_once()
            if time.monotonic() - last_prune >= PRUNE_EVERY_S:
                last_prune = time.monotonic()
                await self.prune_seen()
            await asyncio.sleep(5.0)

    def report_once(self) -> None:
        now, mono = time.time(), time.monotonic()
        waiting: dict[str, float] = {}
        for p in range(self.partitions):
            items = self.pending.get(p, {}) if p in self.owned else {}
            oldest = min((t for _h, t in items.values()), default=now)
            CRAWL_FRONTIER_AGE.labels(str(p)).set(now - oldest if p in self.owned else 0)
            size = self.frontier_size(p) if p in self.owned else 0
            CRAWL_FRONTIER_SIZE.labels(str(p)).set(size or 0)
            for host, t in items.values():
                waiting[host] = min(waiting.get(host, t), t)
        CRAWL_HOSTS_OWNED.set(len(self.known_hosts))
        CRAWL_BUDGET_RATIO.set(self.stats.budget_ratio(mono))
        waiting_mono = {h: mono - (now - t) for h, t in waiting.items()}
        CRAWL_HOSTS_STARVED.set(self.stats.starved(waiting_mono, mono, self.politeness.min_delay_s))

    def frontier_size(self, partition: int) -> int | None:
        return len(self.pending.get(partition, {}))

    async def prune_seen(self) -> None:
        """The age bound: URLs unfetched for ``forget_after_s`` leave memory and Kafka."""
        for url in self.seen.expired(time.time()):
            await self._send_state("seen", host_key(url), url, None)
            CRAWL_STATE_RECORDS.labels("seen", "expired").inc()
        self.seen.save(time.time())


__all__ = ["Lister"]
