"""`newsstream crawl`: one crawler replica (the default), or one local pass.

The default is :func:`run_replica`: a member of the crawler consumer group that crawls the
hosts of its frontier partitions, with its memory in Kafka (:mod:`streams.processes.replica`).
``--once`` and ``--demo`` keep the single-process loop below: every source polled from this
process, the seen-set in a JSON file in the state dir (``--once``) or in memory (``--demo``).
Each due source is polled in its own task, so a slow or dead feed never delays the others;
:class:`streams.crawl.schedule.SourceSchedule` decides when each is due again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from streams.crawl.fetch import Fetcher, FetchPolicy
from streams.crawl.hosts import Politeness
from streams.crawl.schedule import ScheduleConfig, SourceSchedule
from streams.crawl.seen import SeenStore
from streams.crawl.sources import Source, load_sources
from streams.kafka.outage import BrokerWatch
from streams.kafka.probe import check_connection
from streams.kafka.producer import DurableProducer
from streams.processes.poll import Crawler, CrawlLimits, PollStats
from streams.settings import Settings
from streams.topology import DLQ, RAW

log = logging.getLogger(__name__)
UNREACHABLE = ("error", "timeout")
DEMO_POLL_S = 5.0
DEMO_REVISIT_S = 3.0
DEMO_AGE_S = 100 * 365 * 86400.0  # demo stories carry fixed dates; never too old to show


def _report(source: Source, stats: PollStats) -> None:
    if stats.listed:
        log.info(
            "source %s: %d listed, %d new, %d fetched, %d published %s",
            source.id,
            stats.listed,
            stats.new,
            stats.fetched,
            stats.published,
            stats.outcomes or "",
        )


async def poll_and_schedule(
    crawler: Crawler, schedule: SourceSchedule, source: Source
) -> PollStats:
    stats = await crawler.poll(source)
    _report(source, stats)
    now = time.monotonic()
    if stats.failure is not None:
        schedule.failed(source.id, stats.failure, now)
    else:
        schedule.succeeded(source.id, stats.new, now)
    crawler.seen.save(time.time())
    return stats


async def crawl_round(
    crawler: Crawler, sources: list[Source], schedule: SourceSchedule | None = None
) -> list[PollStats]:
    """Poll ``sources`` concurrently, once each."""
    schedule = schedule if schedule is not None else SourceSchedule()
    return list(await asyncio.gather(*(poll_and_schedule(crawler, schedule, s) for s in sources)))


async def run_crawler(settings: Settings, *, demo: bool, once: bool, stop: asyncio.Event) -> None:
    if demo:
        from streams.demo.site import DemoSite

        async with DemoSite() as site:
            sources = [Source(id="demo", url=site.url("/rss.xml"), max_item_age_s=DEMO_AGE_S)]
            config = ScheduleConfig(DEMO_POLL_S, DEMO_POLL_S, DEMO_POLL_S)
            # The demo site is on loopback, which the safety policy refuses unless allowed.
            await _loop(settings, sources, stop, once, ("127.0.0.0/8",), config, demo=True)
    elif once:
        sources = load_sources(settings.sources_file)
        config = ScheduleConfig(initial_interval_s=settings.crawl_poll_interval_s)
        await _loop(settings, sources, stop, once, (), config, demo=False)
    else:
        await run_replica(settings, stop)


async def run_replica(
    settings: Settings, stop: asyncio.Event, *, allow: tuple[str, ...] = ()
) -> None:
    """One replica of the crawler group (streams.processes.replica): the hosts of its frontier
    partitions, state in Kafka. news.sources is seeded from the sources file if it has never
    held a record."""
    from streams.kafka.acls import crawler_group
    from streams.kafka.admin import check_topics
    from streams.processes.replica import Replica
    from streams.topology import CRAWL_STATE, FRONTIER, SOURCES, build_topology

    topics = [RAW, DLQ, FRONTIER, CRAWL_STATE, SOURCES]
    await check_connection(settings, topics=topics, group=crawler_group(settings))
    topology = build_topology(settings, [])
    await check_topics(settings, replace(topology, topics={t: topology[t] for t in topics}))
    await seed_sources(settings)
    watch = asyncio.create_task(BrokerWatch(settings.bootstrap()).run_forever())
    try:
        await Replica(settings, allow=allow).run(stop)
    finally:
        watch.cancel()


async def seed_sources(settings: Settings) -> None:
    """Put the sources file on news.sources when the topic has never held a record (a fresh
    deployment); afterwards `newsstream sources` manages them. A crawler principal may only
    read the topic: then it says what to run instead and crawls what is there."""
    from streams.errors import KafkaAccessError
    from streams.kafka.sources import put_sources, scan_sources

    if (await scan_sources(settings)).ever_written:
        return
    try:
        written = await put_sources(settings, load_sources(settings.sources_file))
    except KafkaAccessError as exc:
        log.warning(
            "news.sources is empty and this principal cannot write it (%s): run `newsstream"
            " sources import --if-new` as admin; crawling nothing until sources arrive",
            exc,
        )
        return
    log.info("news.sources was empty: %d sources seeded from the sources file", written)


async def _loop(
    settings: Settings,
    sources: list[Source],
    stop: asyncio.Event,
    once: bool,
    allow: tuple[str, ...],
    config: ScheduleConfig,
    *,
    demo: bool,
) -> None:
    await check_connection(settings, topics=[RAW, DLQ])  # one clear line if refused
    output = DurableProducer(settings)
    seen_path = None if demo else settings.state_dir / "crawl" / "seen.json"
    revisit_s = DEMO_REVISIT_S if demo else settings.crawl_revisit_interval_s
    seen = SeenStore(seen_path, revisit_interval_s=revisit_s)
    schedule = SourceSchedule(config)
    for s in sources:
        schedule.set_bounds(s.id, s.min_interval_s, s.max_interval_s)
    politeness = Politeness.from_settings(settings)
    if demo:  # one local site: spacing its requests would only slow the demo down
        politeness = replace(politeness, min_delay_s=0.0)
    limits = CrawlLimits.from_settings(settings)
    async with Fetcher(FetchPolicy.from_settings(settings, allow)) as fetcher:
        crawler = Crawler(settings, fetcher, output, seen, politeness=politeness, limits=limits)
        watch = asyncio.create_task(BrokerWatch(settings.bootstrap()).run_forever())
        try:
            if once:
                _warn_unreachable(await crawl_round(crawler, sources, schedule))
                return
            await _forever(crawler, schedule, sources, stop)
        finally:
            watch.cancel()
            await output.stop()


async def _forever(
    crawler: Crawler, schedule: SourceSchedule, sources: list[Source], stop: asyncio.Event
) -> None:
    by_id = {s.id: s for s in sources}
    running: dict[str, asyncio.Task[PollStats]] = {}
    reported: dict[str, PollStats] = {}  # the latest poll of each source since the last check
    try:
        while not stop.is_set():
            idle = [i for i in by_id if i not in running]
            for sid in schedule.due(idle, time.monotonic()):
                running[sid] = asyncio.create_task(
                    poll_and_schedule(crawler, schedule, by_id[sid]), name=f"poll-{sid}"
                )
            if finished_round(running, by_id, reported):
                _warn_unreachable([reported[i] for i in by_id])
                reported.clear()
            wait_s = schedule.next_wakeup([i for i in by_id if i not in running], time.monotonic())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                [*running.values(), stopper], timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
            )
            stopper.cancel()
            for sid, task in list(running.items()):
                if task in done:
                    del running[sid]
                    if task.exception() is None:
                        reported[sid] = task.result()
                    if task.exception() is not None:
                        log.error("poll of %s crashed", sid, exc_info=task.exception())
                        schedule.failed(sid, "crash", time.monotonic())
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)


def finished_round(
    running: dict[str, asyncio.Task[PollStats]],
    by_id: dict[str, Source],
    reported: dict[str, PollStats],
) -> bool:
    """True once every source has reported a poll and none is running: one full round."""
    return not running and len(reported) == len(by_id) > 0


def _warn_unreachable(results: list[PollStats]) -> None:
    if results and all(r.feed_outcome in UNREACHABLE for r in results):
        log.error(
            "live sources unreachable: all %d sources failed to connect (no network?). "
            "Offline, `make demo` runs the whole flow on a built-in site.",
            len(results),
        )
