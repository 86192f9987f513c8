"""The crawl loop body: one poll of a source, its pages fetched concurrently, RawPages published.

One poll: fetch the source's feed/sitemap/section (conditional GET, politely), list its items
(a sitemap index fans out to its newest child sitemaps), select them (:mod:`streams.crawl.frontier`:
canonical, young enough, newest first), keep those not seen (or young enough to be revisited for
edits, with a conditional GET), then fetch all of them at once. The pages' hosts are spaced by
:class:`streams.crawl.polite.PoliteFetcher`, so concurrency across hosts is free and concurrency
per host stays polite; ``max_in_flight`` bounds requests over all hosts. Every fetch outcome is
counted; a page too large for the raw topic becomes a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from streams.clean.decode import decode_html
from streams.crawl.discover import DiscoveredItem, DiscoveryError, extract_links, parse_feed
from streams.crawl.fetch import Fetcher, FetchResult, Kind
from streams.crawl.frontier import Candidate, select_items
from streams.crawl.hosts import Politeness
from streams.crawl.polite import PoliteFetcher, count_fetch, is_transient
from streams.crawl.seen import SeenStore
from streams.crawl.sources import Source
from streams.identity import article_id
from streams.kafka.deadletter import dead_letter
from streams.kafka.producer import DurableProducer
from streams.metrics import CRAWL_ITEMS, DEAD_LETTERS, RECORDS, SOURCE_FRESHNESS
from streams.records import RawPage
from streams.settings import Settings
from streams.stage import Emit
from streams.topology import RAW

__all__ = ["CrawlLimits", "Crawler", "PollStats", "count_fetch"]

log = logging.getLogger(__name__)
STAGE = "crawl"


def to_raw_page(source: Source, item: DiscoveredItem, result: FetchResult, aid: str) -> RawPage:
    return RawPage(
        article_id=aid,
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


@dataclass(frozen=True)
class CrawlLimits:
    max_in_flight: int = 256  # requests over all hosts; per host, Politeness.concurrency
    max_items_per_poll: int = 2000
    max_child_sitemaps: int = 20  # newest children of a sitemap index read per poll

    @classmethod
    def from_settings(cls, s: Settings) -> CrawlLimits:
        return cls(
            max_in_flight=s.crawl_max_in_flight,
            max_items_per_poll=s.crawl_max_items_per_poll,
            max_child_sitemaps=s.crawl_max_child_sitemaps,
        )


@dataclass
class PollStats:
    listed: int = 0
    new: int = 0
    fetched: int = 0
    published: int = 0
    feed_outcome: str = ""
    failure: str | None = None
    outcomes: dict[str, int] = field(default_factory=dict)


class Crawler:
    def __init__(
        self,
        settings: Settings,
        fetcher: Fetcher,
        output: DurableProducer,
        seen: SeenStore,
        *,
        politeness: Politeness | None = None,
        limits: CrawlLimits | None = None,
        polite: PoliteFetcher | None = None,
    ) -> None:
        self.settings, self.fetcher, self.output, self.seen = settings, fetcher, output, seen
        self.limits = limits if limits is not None else CrawlLimits.from_settings(settings)
        if politeness is None:
            politeness = Politeness.from_settings(settings)
        self.polite = polite or PoliteFetcher(
            fetcher, politeness=politeness, max_in_flight=self.limits.max_in_flight
        )
        self.robots = self.polite.robots
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._in_flight: set[str] = set()

    async def poll(self, source: Source) -> PollStats:
        """Poll one source; never raises for network or document trouble (see PollStats)."""
        stats = PollStats()
        kind: Kind = "page" if source.kind == "section" else "feed"
        listing = await self.fetch_listing(source.url, kind)
        stats.feed_outcome = listing.outcome
        if listing.outcome == "not_modified":
            items = self.seen.revisit_items(source.id, time.time())
        elif listing.ok:
            try:
                items = await self.list_items(source, listing)
            except DiscoveryError as exc:
                stats.failure = f"unparsable {source.kind}: {exc}"
                return stats
        else:
            stats.failure = f"{listing.outcome} ({listing.reason})"
            return stats
        stats.listed = len(items)
        candidates = self.select(source, items)
        await asyncio.gather(*(self._crawl_item(source, c, stats) for c in candidates))
        return stats

    async def fetch_listing(self, url: str, kind: Kind) -> FetchResult:
        etag, modified = self._validators.get(url, (None, None))
        listing = await self.polite.fetch(url, kind=kind, etag=etag, last_modified=modified)
        if listing.ok:
            self._validators[url] = (
                listing.headers.get("etag"),
                listing.headers.get("last-modified"),
            )
        return listing

    async def list_items(self, source: Source, listing: FetchResult) -> list[DiscoveredItem]:
        if source.kind == "section":
            html = decode_html(listing.body, content_type=listing.headers.get("content-type"))
            return extract_links(html.text, listing.final_url, [source.link_pattern or "."])
        items = parse_feed(listing.body, listing.final_url)
        children = [i for i in items if i.source_kind == "sitemap_index"]
        if not children:
            return items
        picked = select_items(
            children, max_age_s=source.max_item_age_s, limit=self.limits.max_child_sitemaps
        ).candidates
        found = [i for i in items if i.source_kind != "sitemap_index"]
        for child in await asyncio.gather(*(self._child_items(source, c.item) for c in picked)):
            found.extend(child)
        return found

    async def _child_items(self, source: Source, child: DiscoveredItem) -> list[DiscoveredItem]:
        """Items of one child sitemap (one level only: nested indexes are not followed)."""
        result = await self.fetch_listing(child.url, "feed")
        if not result.ok:
            if result.outcome != "not_modified":
                log.warning("source %s: sitemap %s: %s", source.id, child.url, result.outcome)
            return []
        try:
            items = parse_feed(result.body, result.final_url)
        except DiscoveryError as exc:
            log.warning("source %s: sitemap %s unparsable: %s", source.id, child.url, exc)
            return []
        return [i for i in items if i.source_kind != "sitemap_index"]

    def select(self, source: Source, items: list[DiscoveredItem]) -> list[Candidate]:
        sel = select_items(
            items,
            max_age_s=source.max_item_age_s,
            allowed_hosts=source.allowed_hosts,
            limit=self.limits.max_items_per_poll,
        )
        for name in ("too_old", "duplicate", "bad_url", "other_host", "over_limit"):
            if getattr(sel, name):
                CRAWL_ITEMS.labels(name).inc(getattr(sel, name))
        return sel.candidates

    async def _crawl_item(self, source: Source, cand: Candidate, stats: PollStats) -> None:
        url, item, now = cand.canonical, cand.item, time.time()
        state = self.seen.due(url, now)
        if state is None or url in self._in_flight:
            CRAWL_ITEMS.labels("seen").inc()
            return
        new = not self.seen.known(url)
        stats.new += int(new)
        CRAWL_ITEMS.labels("new" if new else "revisit").inc()
        self._in_flight.add(url)
        try:
            result = await self.polite.fetch(
                item.url, etag=state.etag, last_modified=state.last_modified
            )
        finally:
            self._in_flight.discard(url)
        stats.outcomes[result.outcome] = stats.outcomes.get(result.outcome, 0) + 1
        if not is_transient(result):
            # A transient failure stays unmarked so the next poll of the source tries again.
            self.seen.mark(url, source.id, item, now, result)
        if result.ok:
            stats.fetched += 1
            if item.published is not None:
                SOURCE_FRESHNESS.labels(source.id).set(
                    max(0.0, (result.fetched_at - item.published).total_seconds())
                )
            await self.publish(to_raw_page(source, item, result, article_id(url)))
            stats.published += 1

    async def publish(self, page: RawPage) -> None:
        value = page.to_json()
        key = page.article_id.encode()
        try:
            if len(value) > self.settings.topic_max_message_bytes:
                raise ValueError(f"{len(value)} bytes > topic limit")
            await self.output.send_all([Emit(RAW, key, value)], stage=STAGE)
            RECORDS.labels(STAGE, "published").inc()
        except (KafkaError, ValueError) as exc:
            # Too large for the topic (ours or the broker's own limit), or another error the
            # producer does not retry (e.g. a missing WRITE ACL): each under its own reason.
            too_large = isinstance(exc, ValueError | MessageSizeTooLargeError)
            reason = "too_large_for_topic" if too_large else "publish_failed"
            letter = dead_letter(STAGE, reason, f"{page.final_url}: {exc!r}", key, value, None)
            await self.output.send_all([letter], stage=STAGE)
            DEAD_LETTERS.labels(STAGE, reason).inc()
            RECORDS.labels(STAGE, "dead_letter").inc()
