"""Feeds, sitemaps and section pages yield the article URLs they list; hostile XML fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from streams.crawl.discover import DiscoveryError, extract_links, parse_date, parse_feed

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title><language>uk</language>
<item><title>  Perhaps   news </title><link>/uk/news/1.html</link>
<pubDate>Tue, 12 Mar 2024 14:05:00 +0200</pubDate></item>
<item><title>By guid</title><guid>https://example.com/uk/news/2.html</guid></item>
<item><title>Not a permalink</title><guid isPermaLink="false">tag-3</guid></item>
<item><title>Bad scheme</title><link>javascript:alert(1)</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>T</title>
<entry><title>One</title><link rel="alternate" href="https://example.com/en/1"/>
<link rel="edit" href="https://example.com/edit/1"/><published>2024-03-13T10:15:00Z</published>
</entry>
<entry xml:lang="ru"><title>Two</title><link href="/ru/2"/><updated>2024-03-14</updated></entry>
</feed>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://example.com/a</loc><news:news>
<news:publication><news:name>Herald</news:name><news:language>ru</news:language></news:publication>
<news:publication_date>2024-03-13T11:20:00+02:00</news:publication_date>
<news:title>Headline A</news:title></news:news></url>
<url><loc>https://example.com/b</loc><lastmod>2024-03-10</lastmod></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://example.com/sitemap-news.xml</loc><lastmod>2024-03-17T08:00:00Z</lastmod>
</sitemap></sitemapindex>"""


def test_rss() -> None:
    items = parse_feed(RSS, "https://example.com/rss.xml")
    assert [i.url for i in items] == [
        "https://example.com/uk/news/1.html",
        "https://example.com/uk/news/2.html",
    ]
    assert items[0].title == "Perhaps news"
    assert items[0].published == datetime(2024, 3, 12, 12, 5, tzinfo=UTC)
    assert items[0].language == "uk"
    assert items[0].source_kind == "rss"


def test_atom() -> None:
    items = parse_feed(ATOM, "https://example.com/atom.xml")
    assert [(i.url, i.language) for i in items] == [
        ("https://example.com/en/1", "en"),
        ("https://example.com/ru/2", "ru"),
    ]
    assert items[0].published == datetime(2024, 3, 13, 10, 15, tzinfo=UTC)
    assert items[1].published == datetime(2024, 3, 14, tzinfo=UTC)


def test_news_sitemap_and_plain_entries() -> None:
    news, plain = parse_feed(NEWS_SITEMAP, "https://example.com/sitemap.xml")
    assert news.source_kind == "news_sitemap"
    assert (news.title, news.language) == ("Headline A", "ru")
    assert news.published == datetime(2024, 3, 13, 11, 20, tzinfo=timezone(timedelta(hours=2)))
    assert plain.source_kind == "sitemap"
    assert plain.published == datetime(2024, 3, 10, tzinfo=UTC)


def test_sitemap_index() -> None:
    (item,) = parse_feed(INDEX, "https://example.com/sitemap.xml")
    assert item.source_kind == "sitemap_index"
    assert item.url == "https://example.com/sitemap-news.xml"


@pytest.mark.parametrize(
    "body",
    [
        # billion laughs: entity expansion must be refused, not performed
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><item>'
        b"<link>&b;</link></item></channel></rss>",
        # external entity: must never read the file
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><item><link>&x;</link></item></channel></rss>",
        b"<rss><channel><item>",  # truncated
        b"<html><body>not a feed</body></html>",
        b"",
    ],
)
def test_hostile_or_wrong_documents_raise(body: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(body, "https://example.com/")


def test_parse_date_variants() -> None:
    assert parse_date("Wed, 13 Mar 2024 10:15:00 GMT") == datetime(2024, 3, 13, 10, 15, tzinfo=UTC)
    assert parse_date("2024-03-13T10:15:00") == datetime(2024, 3, 13, 10, 15, tzinfo=UTC)
    assert parse_date("yesterday") is None
    assert parse_date(None) is None


SECTION = """<html><head><base href="https://news.example.com/"></head><body>
<nav><a href="/">Home</a><a href="/sport/">Sport</a></nav>
<a href="/2024/03/13/story-one.html"><img src="x.jpg"></a>
<a href="/2024/03/13/story-one.html#comments">Story <b>one</b></a>
<a href="https://news.example.com/2024/03/14/story-two.html?utm_source=x">Story two</a>
<a href="mailto:desk@example.com">Mail</a><a>no href</a>
</body></html>"""


def test_extract_links_filters_by_pattern_and_dedupes() -> None:
    items = extract_links(SECTION, "https://mirror.example.org/", [r"/\d{4}/\d\d/\d\d/"])
    assert [(i.url, i.title) for i in items] == [
        ("https://news.example.com/2024/03/13/story-one.html", "Story one"),
        ("https://news.example.com/2024/03/14/story-two.html?utm_source=x", "Story two"),
    ]
    assert all(i.source_kind == "html" for i in items)
