"""`newsstream crawl`: poll the sources until stopped (or once), live or on the demo site."""

from __future__ import annotations

import asyncio
import logging
import time

from streams.app.output import DurableProducer
from streams.crawl.fetch import Fetcher
from streams.crawl.seen import SeenStore
from streams.crawl.service import Crawler, PollStats, policy_from_settings
from streams.crawl.sources import Source, load_sources
from streams.settings import Settings

log = logging.getLogger(__name__)
UNREACHABLE = ("error", "timeout")
DEMO_POLL_S = 5.0


def _report(source: Source, stats: PollStats) -> None:
    if stats.listed:
        log.info(
            "source %s: %d listed, %d fetched, %d published %s",
            source.id,
            stats.listed,
            stats.fetched,
            stats.published,
            stats.outcomes or "",
        )


async def crawl_round(crawler: Crawler, sources: list[Source]) -> list[PollStats]:
    results = []
    for source in sources:
        stats = await crawler.poll(source)
        _report(source, stats)
        results.append(stats)
    crawler.seen.save(time.time())
    return results


async def run_crawler(settings: Settings, *, demo: bool, once: bool, stop: asyncio.Event) -> None:
    if demo:
        from streams.demo.site import DemoSite

        async with DemoSite() as site:
            sources = [Source(id="demo", url=site.url("/rss.xml"))]
            # The demo site is on loopback, which the safety policy refuses unless allowed.
            await _loop(settings, sources, stop, once, ("127.0.0.0/8",), DEMO_POLL_S, demo=True)
    else:
        sources = load_sources(settings.sources_file)
        await _loop(settings, sources, stop, once, (), settings.crawl_poll_interval_s, demo=False)


async def _loop(
    settings: Settings,
    sources: list[Source],
    stop: asyncio.Event,
    once: bool,
    allow: tuple[str, ...],
    interval_s: float,
    *,
    demo: bool,
) -> None:
    output = DurableProducer(settings)
    seen_path = None if demo else settings.state_dir / "crawl" / "seen.json"
    seen = SeenStore(seen_path, revisit_interval_s=3.0 if demo else 1800)
    async with Fetcher(policy_from_settings(settings, allow)) as fetcher:
        crawler = Crawler(settings, fetcher, output, seen, default_delay_s=0.0 if demo else 1.0)
        try:
            while not stop.is_set():
                results = await crawl_round(crawler, sources)
                if results and all(r.feed_outcome in UNREACHABLE for r in results):
                    log.error(
                        "live sources unreachable: all %d sources failed to connect (no "
                        "network?). Retrying in %.0fs. Offline, `make demo` runs the whole "
                        "flow on a built-in site.",
                        len(results),
                        interval_s,
                    )
                if once:
                    return
                try:
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
                except TimeoutError:
                    pass
        finally:
            await output.stop()
