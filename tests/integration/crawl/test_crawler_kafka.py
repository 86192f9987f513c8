"""The crawler against hostile and ordinary sites on 127.0.0.1, publishing to the real broker.

Each scenario checks its counted outcome (prometheus_client counters) and that the pages that
should arrive are on the raw topic (and the ones that should not, are not).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import orjson
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from streams.crawl.fetch import Fetcher
from streams.crawl.hosts import Politeness
from streams.crawl.seen import SeenStore
from streams.crawl.sources import Source
from streams.kafka.producer import DurableProducer
from streams.kafka.reader import read_topic
from streams.processes.poll import Crawler
from streams.records import RawPage
from streams.settings import Settings
from streams.topology import RAW
from tests.integration.crawl.sites import RECENT, Site, gzip_bomb, huge_page, slow_loris

pytestmark = pytest.mark.integration
Serve = Callable[..., Awaitable[str]]
MakeCrawler = Callable[..., Crawler]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """Counter deltas since construction: ``counts.delta("newsstream_fetch_total", outcome=..)``."""

    def __init__(self) -> None:
        self._start: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for metric in REGISTRY.collect():
            for s in metric.samples:
                self._start[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def delta(self, name: str, **labels: str) -> float:
        return sample(name, **labels) - self._start.get((name, tuple(sorted(labels.items()))), 0.0)


async def pages_on(settings: Settings, topic: str, source_id: str) -> dict[str, dict[str, Any]]:
    """Every RawPage of ``source_id`` on ``topic`` by URL (reads up to the current end)."""
    found: dict[str, dict[str, Any]] = {}
    async with aclosing(read_topic(settings, topic)) as records:
        async for rec in records:
            data = orjson.loads(rec.value or b"null")
            if isinstance(data, dict) and data.get("source_id") == source_id:
                found[data["url"]] = data
    return found


@pytest.fixture
async def make_crawler(stream_settings: Settings, crawl_topics: None) -> AsyncIterator[MakeCrawler]:
    made: list[tuple[Fetcher, DurableProducer]] = []

    def make(politeness: Politeness | None = None, **policy: Any) -> Crawler:
        from streams.crawl.fetch import FetchPolicy

        policy.setdefault("allow_cidrs", ("127.0.0.1/32",))
        fetcher = Fetcher(FetchPolicy(**policy))
        output = DurableProducer(stream_settings)
        made.append((fetcher, output))
        manners = politeness or Politeness(min_delay_s=0.0, max_retries=1, backoff_base_s=0.05)
        return Crawler(stream_settings, fetcher, output, SeenStore(None), politeness=manners)

    yield make
    for fetcher, output in made:
        await fetcher.close()
        await output.stop()


async def start(serve: Serve, site: Site) -> str:
    site.base = await serve(site.app())
    return site.base


def source(kind: str, url: str, **kw: Any) -> Source:
    return Source(id=f"t-{uuid.uuid4().hex[:10]}", url=url, kind=kind, **kw)  # type: ignore[arg-type]


async def test_feed_pages_arrive_once_then_304(
    serve: Serve, make_crawler: MakeCrawler, stream_settings: Settings
) -> None:
    site = Site()
    base = await start(serve, site)
    utf8 = site.page("/news/1", "Перша новина")
    cp1251 = site.page("/news/2", "Вторая новость", charset="windows-1251")
    site.page("/news/old", "Old")
    site.rss("/feed.xml", ["/news/1", "/news/2", "/news/1?utm_source=tg&fbclid=x#top"])
    src = source("feed", base + "/feed.xml")
    crawler = make_crawler()
    counts = Counts()

    stats = await crawler.poll(src)
    assert (stats.listed, stats.new, stats.published) == (3, 2, 2)
    assert site.hits["/news/1"] == 1  # the tracking-parameter duplicate is fetched once
    assert counts.delta("newsstream_fetch_total", outcome="fetched") == 3  # feed + 2 pages
    assert counts.delta("newsstream_crawl_items_total", outcome="duplicate") == 1
    pages = await pages_on(stream_settings, RAW, src.id)
    assert set(pages) == {base + "/news/1", base + "/news/2"}
    second = RawPage.model_validate(pages[base + "/news/2"])
    assert second.body == cp1251  # windows-1251 bytes intact; clean decodes them
    assert second.headers["content-type"] == "text/html; charset=windows-1251"
    assert RawPage.model_validate(pages[base + "/news/1"]).body == utf8
    assert second.feed_title == "Item 1"
    assert second.discovered_via == "feed"

    again = await crawler.poll(src)
    assert again.feed_outcome == "not_modified"
    assert site.headers["/feed.xml"][-1]["If-None-Match"].startswith('"')
    assert counts.delta("newsstream_fetch_total", outcome="not_modified") == 1
    assert site.hits["/news/1"] == 1
    assert site.hits["/news/2"] == 1


async def test_news_sitemap_and_sitemap_index(
    serve: Serve, make_crawler: MakeCrawler, stream_settings: Settings
) -> None:
    site = Site()
    base = await start(serve, site)
    day = RECENT.isoformat()
    news = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{base}/a</loc><news:news><news:publication><news:name>T</news:name>"
        "<news:language>uk</news:language></news:publication>"
        f"<news:publication_date>{day}</news:publication_date><news:title>Заголовок</news:title>"
        f"</news:news></url><url><loc>{base}/b</loc><lastmod>{day}</lastmod></url></urlset>"
    )
    plain = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/c</loc><lastmod>{day}</lastmod></url>"
        f"<url><loc>{base}/ancient</loc><lastmod>2001-01-01</lastmod></url></urlset>"
    )
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sm-news.xml</loc><lastmod>{day}</lastmod></sitemap>"
        f"<sitemap><loc>{base}/sm-plain.xml</loc></sitemap></sitemapindex>"
    )
    site.text("/sm-news.xml", news, "application/xml")
    site.text("/sm-plain.xml", plain, "text/xml")
    site.text("/index.xml", index, "application/xml")
    for path in ("/a", "/b", "/c", "/ancient"):
        site.page(path, path)
    src = source("sitemap", base + "/index.xml", max_item_age_s=86400.0)
    counts = Counts()
    stats = await make_crawler().poll(src)
    assert stats.published == 3
    assert site.hits["/ancient"] == 0
    assert counts.delta("newsstream_crawl_items_total", outcome="too_old") == 1
    pages = await pages_on(stream_settings, RAW, src.id)
    assert set(pages) == {base + "/a", base + "/b", base + "/c"}
    a = RawPage.model_validate(pages[base + "/a"])
    assert (a.feed_title, a.feed_language, a.discovered_via) == ("Заголовок", "uk", "sitemap")
    assert a.feed_published == RECENT


async def test_robots_disallow_and_crawl_delay(
    serve: Serve, make_crawler: MakeCrawler, stream_settings: Settings
) -> None:
    site = Site(robots="User-agent: *\nDisallow: /private/\nCrawl-delay: 0.4\n")
    base = await start(serve, site)
    paths = ["/p/1", "/p/2", "/p/3", "/private/secret"]
    for path in paths:
        site.page(path, path)
    site.rss("/feed.xml", paths)
    src = source("feed", base + "/feed.xml")
    counts = Counts()
    stats = await make_crawler().poll(src)
    assert stats.published == 3
    assert site.hits["/private/secret"] == 0
    assert counts.delta("newsstream_fetch_total", outcome="robots_denied") == 1
    starts = sorted(t for p in ["/feed.xml", *paths[:3]] for t in site.times[p])
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.38, gaps  # Crawl-delay 0.4 s between request starts
    assert set(await pages_on(stream_settings, RAW, src.id)) == {base + p for p in paths[:3]}


async def test_429_retry_after_pauses_the_host(
    serve: Serve, make_crawler: MakeCrawler, stream_settings: Settings
) -> None:
    site = Site()
    base = await start(serve, site)
    body = site.page("/busy", "busy")

    async def busy(request: web.Request) -> web.Response:
        if site.hits["/busy"] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(body=body, content_type="text/html")

    site.route("/busy", busy)
    site.rss("/feed.xml", ["/busy"])
    src = source("feed", base + "/feed.xml")
    counts = Counts()
    stats = await make_crawler().poll(src)
    assert stats.published == 1
    first, second = site.times["/busy"]
    assert second - first >= 0.95
    assert counts.delta("newsstream_host_pauses_total", status="429") == 1
    assert counts.delta("newsstream_fetch_retries_total", reason="status_429") == 1
    assert counts.delta("newsstream_fetch_status_total", code="429") == 1
    assert set(await pages_on(stream_settings, RAW, src.id)) == {base + "/busy"}


async def test_hostile_pages_are_counted_and_never_published(
    serve: Serve, make_crawler: MakeCrawler, stream_settings: Settings
) -> None:
    site = Site()
    base = await start(serve, site)
    site.page("/fine", "fine")

    async def to_private(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/admin")

    site.route("/jump", to_private)
    site.route("/bomb", gzip_bomb)
    site.route("/huge", huge_page)
    site.route("/loris", slow_loris)
    site.route("/gone", lambda _: _not_found())
    site.rss("/feed.xml", ["/fine", "/jump", "/bomb", "/huge", "/loris", "/gone"])
    src = source("feed", base + "/feed.xml")
    counts = Counts()
    crawler = make_crawler(read_timeout_s=1.0, total_timeout_s=1.5)
    stats = await crawler.poll(src)
    assert stats.published == 1
    assert counts.delta("newsstream_fetch_blocked_total", reason="private") == 1
    assert counts.delta("newsstream_fetch_total", outcome="too_large") == 2  # bomb + 50 MB
    assert counts.delta("newsstream_fetch_total", outcome="timeout") == 2  # one retry
    assert counts.delta("newsstream_fetch_retries_total", reason="timeout") == 1
    assert counts.delta("newsstream_fetch_total", outcome="http_error") == 1  # 404, no retry
    assert site.hits["/gone"] == 1
    assert site.hits["/bomb"] == 1
    assert site.hits["/huge"] == 1
    assert set(await pages_on(stream_settings, RAW, src.id)) == {base + "/fine"}


async def _not_found() -> web.Response:
    return web.Response(status=404, text="gone")
