"""The crawl loop: poll sources, fetch new (or revisited) pages, publish RawPages.

One poll of a source: fetch its feed/sitemap/section (conditional GET), list items, keep those
not seen (or seen recently enough to be revisited for edits, with a conditional GET), check
robots.txt, fetch each page under the safety policy, publish a RawPage keyed by article id.
Every fetch outcome is counted; a page too large for the raw topic becomes a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError

from streams.app.output import DurableProducer
from streams.app.shell import dead_letter
from streams.clean.decode import decode_html
from streams.crawl.canonical import CanonicalURLError, article_id, canonicalize
from streams.crawl.discover import DiscoveredItem, DiscoveryError, extract_links, parse_feed
from streams.crawl.fetch import Fetcher, FetchPolicy, FetchResult
from streams.crawl.robots import RobotsCache
from streams.crawl.seen import SeenStore
from streams.crawl.sources import Source
from streams.metrics import (
    DEAD_LETTERS,
    FETCH_BLOCKED,
    FETCH_BYTES,
    FETCH_SECONDS,
    FETCHES,
    RECORDS,
    SOURCE_FRESHNESS,
)
from streams.records import RawPage
from streams.settings import Settings
from streams.stages.base import Emit
from streams.topology import RAW

log = logging.getLogger(__name__)
STAGE = "crawl"


def policy_from_settings(s: Settings, extra_allow: tuple[str, ...] = ()) -> FetchPolicy:
    return FetchPolicy(
        max_body_bytes=s.fetch_max_body_bytes,
        max_decompressed_bytes=s.fetch_max_body_bytes,
        connect_timeout_s=s.fetch_connect_timeout_s,
        read_timeout_s=s.fetch_read_timeout_s,
        total_timeout_s=s.fetch_total_timeout_s,
        allow_cidrs=tuple(s.fetch_allow_cidrs) + extra_allow,
    )


def count_fetch(result: FetchResult) -> None:
    FETCHES.labels(result.outcome).inc()
    FETCH_SECONDS.observe(result.elapsed_s)
    FETCH_BYTES.inc(len(result.body))
    if result.outcome == "blocked":
        FETCH_BLOCKED.labels(result.reason or "unknown").inc()


def to_raw_page(source: Source, item: DiscoveredItem, result: FetchResult) -> RawPage:
    return RawPage(
        article_id=article_id(canonicalize(item.url)),
        url=item.url,
        final_url=result.final_url,
        redirects=list(result.redirects),
        status=result.status or 200,
        fetched_at=result.fetched_at,
        source_id=source.id,
        discovered_via="section" if source.kind == "section" else source.kind,
        content_type=result.headers.get("content-type"),
        headers=result.headers,
        body_b64=RawPage.encode_body(result.body),
        feed_title=item.title,
        feed_published=item.published,
        feed_language=item.language or source.language,
    )


@dataclass
class PollStats:
    listed: int = 0
    fetched: int = 0
    published: int = 0
    feed_outcome: str = ""
    outcomes: dict[str, int] = field(default_factory=dict)


class Crawler:
    def __init__(
        self,
        settings: Settings,
        fetcher: Fetcher,
        output: DurableProducer,
        seen: SeenStore,
        *,
        default_delay_s: float = 1.0,
    ) -> None:
        self.settings, self.fetcher, self.output, self.seen = settings, fetcher, output, seen
        self.robots = RobotsCache(fetcher)
        self.default_delay_s = default_delay_s
        self._validators: dict[str, tuple[str | None, str | None]] = {}

    async def poll(self, source: Source) -> PollStats:
        stats = PollStats()
        etag, modified = self._validators.get(source.url, (None, None))
        kind = "page" if source.kind == "section" else "feed"
        listing = await self.fetcher.fetch(source.url, kind=kind, etag=etag, last_modified=modified)
        count_fetch(listing)
        stats.feed_outcome = listing.outcome
        if listing.outcome == "not_modified":
            items = self.seen.revisit_items(source.id, time.time())
        elif listing.ok:
            self._validators[source.url] = (
                listing.headers.get("etag"),
                listing.headers.get("last-modified"),
            )
            items = self._items(source, listing)
        else:
            log.warning("source %s: %s (%s)", source.id, listing.outcome, listing.reason)
            return stats
        stats.listed = len(items)
        for item in items:
            await self._crawl_item(source, item, stats)
        return stats

    def _items(self, source: Source, listing: FetchResult) -> list[DiscoveredItem]:
        try:
            if source.kind == "section":
                html = decode_html(listing.body, content_type=listing.headers.get("content-type"))
                return extract_links(html.text, listing.final_url, [source.link_pattern or "."])
            return parse_feed(listing.body, listing.final_url)
        except DiscoveryError as exc:
            log.warning("source %s: cannot parse %s: %s", source.id, source.kind, exc)
            return []

    async def _crawl_item(self, source: Source, item: DiscoveredItem, stats: PollStats) -> None:
        try:
            url = canonicalize(item.url)
        except CanonicalURLError:
            FETCHES.labels("bad_url").inc()
            return
        now = time.time()
        state = self.seen.due(url, now)
        if state is None:
            return
        if not await self.robots.allowed(item.url):
            FETCHES.labels("robots_denied").inc()
            self.seen.mark(url, source.id, item, now, None)
            return
        delay = await self.robots.crawl_delay(item.url)
        await asyncio.sleep(delay if delay is not None else self.default_delay_s)
        result = await self.fetcher.fetch(
            item.url, etag=state.etag, last_modified=state.last_modified
        )
        count_fetch(result)
        stats.outcomes[result.outcome] = stats.outcomes.get(result.outcome, 0) + 1
        self.seen.mark(url, source.id, item, now, result)
        if result.ok:
            stats.fetched += 1
            if item.published is not None:
                SOURCE_FRESHNESS.labels(source.id).set(
                    max(0.0, (result.fetched_at - item.published).total_seconds())
                )
            await self._publish(to_raw_page(source, item, result))
            stats.published += 1

    async def _publish(self, page: RawPage) -> None:
        value = page.to_json()
        key = page.article_id.encode()
        try:
            if len(value) > self.settings.topic_max_message_bytes:
                raise ValueError(f"{len(value)} bytes > topic limit")
            await self.output.send_all([Emit(RAW, key, value)], stage=STAGE)
            RECORDS.labels(STAGE, "published").inc()
        except (KafkaError, ValueError) as exc:
            letter = dead_letter(
                STAGE, "too_large_for_topic", f"{page.final_url}: {exc}", key, value, None
            )
            await self.output.send_all([letter], stage=STAGE)
            DEAD_LETTERS.labels(STAGE, "too_large_for_topic").inc()
            RECORDS.labels(STAGE, "dead_letter").inc()
