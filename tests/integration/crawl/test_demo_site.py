"""The offline demo site serves its pages, feed, sitemap and robots.txt, and discovery finds
every article from both the feed and the sitemap."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable

import pytest

from streams.crawl.discover import extract_links, parse_feed
from streams.crawl.fetch import Fetcher
from streams.crawl.robots import RobotsCache
from streams.demo.pages import PAGES, PRIVATE_PATH, SECTION_PATH, page_by_key
from streams.demo.site import DemoSite
from streams.identity import canonicalize

Factory = Callable[..., Fetcher]


@pytest.fixture
async def site() -> AsyncIterator[DemoSite]:
    async with DemoSite() as demo:
        yield demo


def test_pages_cover_languages_and_topics() -> None:
    assert 8 <= len(PAGES) <= 12
    assert {p.story.lang for p in PAGES} == {"uk", "ru", "en"}
    assert {"diplomacy", "crime", "infrastructure", "war", "economy", "sport"} <= {
        p.story.topic for p in PAGES
    }
    assert len({p.path for p in PAGES}) == len(PAGES)


async def test_every_page_is_served(site: DemoSite, fetcher_factory: Factory) -> None:
    fetcher = fetcher_factory()
    for page in site.pages:
        result = await fetcher.fetch(site.url(page.path))
        assert result.outcome == "fetched", page.key
        assert result.headers["content-type"] == page.content_type
        html = result.body.decode(page.charset)
        assert page.story.title.split()[0] in html
        if page.template == "main":
            match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html)
            assert match is not None
            data = json.loads(match.group(1))
            assert data["datePublished"] == page.story.published.isoformat()
            assert data["author"]["name"] == page.story.author
            assert f'<link rel="canonical" href="{site.url(page.path)}">' in html


async def test_windows_1251_page(site: DemoSite, fetcher_factory: Factory) -> None:
    page = page_by_key("fraud-ru")
    result = await fetcher_factory().fetch(site.url(page.path))
    assert result.headers["content-type"] == "text/html; charset=windows-1251"
    assert '<meta charset="windows-1251">' in result.body.decode("cp1251")
    with pytest.raises(UnicodeDecodeError):
        result.body.decode("utf-8")
    assert page.story.paragraphs[0] in result.body.decode("cp1251")


async def test_hreflang_alternates_link_uk_and_ru(site: DemoSite, fetcher_factory: Factory) -> None:
    fetcher = fetcher_factory()
    uk, ru = page_by_key("border-uk"), page_by_key("border-ru")
    for page in (uk, ru):
        html = (await fetcher.fetch(site.url(page.path))).body.decode()
        assert f'hreflang="uk" href="{site.url(uk.path)}"' in html
        assert f'hreflang="ru" href="{site.url(ru.path)}"' in html


async def test_revision_changes_after_first_fetch(site: DemoSite, fetcher_factory: Factory) -> None:
    page = page_by_key("bridge-uk")
    assert page.story.update is not None
    fetcher = fetcher_factory()
    first = await fetcher.fetch(site.url(page.path))
    second = await fetcher.fetch(site.url(page.path), etag=first.headers["etag"])
    assert second.outcome == "fetched"  # a new version, so the old ETag does not match
    assert "Оновлено" not in first.body.decode()
    assert page.story.update.note in second.body.decode()
    assert page.story.update.paragraph in second.body.decode()
    third = await fetcher.fetch(site.url(page.path), etag=second.headers["etag"])
    assert third.outcome == "not_modified"


async def test_syndicated_copy_has_same_text_other_template(
    site: DemoSite, fetcher_factory: Factory
) -> None:
    fetcher = fetcher_factory()
    copy, original = page_by_key("rate-en-partner"), page_by_key("rate-en")
    assert copy.syndicates == original.key
    copy_html = (await fetcher.fetch(site.url(copy.path))).body.decode()
    original_html = (await fetcher.fetch(site.url(original.path))).body.decode()
    for paragraph in original.story.paragraphs:
        assert paragraph in copy_html
    assert "Regional Wire" in copy_html
    assert "Regional Wire" not in original_html


async def test_feed_and_sitemap_list_every_article(
    site: DemoSite, fetcher_factory: Factory
) -> None:
    fetcher = fetcher_factory()
    expected = {canonicalize(u) for u in site.article_urls()}
    for path, kinds in (("/rss.xml", {"rss"}), ("/sitemap.xml", {"news_sitemap"})):
        result = await fetcher.fetch(site.url(path), kind="feed")
        assert result.outcome == "fetched"
        items = parse_feed(result.body, result.final_url)
        assert {canonicalize(i.url) for i in items} == expected
        assert {i.source_kind for i in items} == kinds
        assert all(i.title and i.published and i.language for i in items)
        again = await fetcher.fetch(site.url(path), kind="feed", etag=result.headers["etag"])
        assert again.outcome == "not_modified"


async def test_section_page_links(site: DemoSite, fetcher_factory: Factory) -> None:
    result = await fetcher_factory().fetch(site.url(SECTION_PATH))
    items = extract_links(result.body.decode(), result.final_url, [r"/\d{4}/\d\d/\d\d/"])
    assert {i.url for i in items} == set(site.article_urls())


async def test_robots_allows_articles_not_private(site: DemoSite, fetcher_factory: Factory) -> None:
    robots = RobotsCache(fetcher_factory())
    for url in site.article_urls():
        assert await robots.allowed(url)
    assert not await robots.allowed(site.url(PRIVATE_PATH))
    rules = await robots.rules_for(site.base_url)
    assert rules.sitemaps == (site.url("/sitemap.xml"),)
    assert site.hits["/robots.txt"] == 1  # cached per origin
