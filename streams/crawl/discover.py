"""Finding article URLs in feeds, sitemaps and section pages.

XML is parsed with defusedxml on top of the standard library's expat: it refuses DTDs and
entity declarations outright, so billion-laughs and external-entity tricks fail with an error
instead of expanding or reaching the network. lxml would be faster but is a large C dependency
whose safe configuration (``resolve_entities=False, no_network=True``) must be repeated at
every call site; feeds are small (the Fetcher caps them at 5 MiB), so the pure-Python parser
is enough.

Elements are matched by local name, ignoring namespaces, because real feeds get namespace
URIs wrong more often than they use two elements of the same local name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

SourceKind = Literal["rss", "atom", "sitemap", "sitemap_index", "news_sitemap", "html"]
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class DiscoveryError(ValueError):
    """The document is not a feed or sitemap we can read (malformed, forbidden XML, unknown)."""


@dataclass(frozen=True)
class DiscoveredItem:
    url: str
    title: str | None
    published: datetime | None
    language: str | None
    source_kind: SourceKind


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower()


def _child(el: Element, name: str) -> Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _children(el: Element, name: str) -> Iterator[Element]:
    return (c for c in el if _local(c.tag) == name)


def _text(el: Element | None, name: str | None = None) -> str | None:
    node = _child(el, name) if el is not None and name else el
    if node is None:
        return None
    text = " ".join("".join(node.itertext()).split())
    return text or None


def parse_date(value: str | None) -> datetime | None:
    """RFC 822 (RSS) or W3C/ISO 8601 (Atom, sitemaps) date; naive values are taken as UTC."""
    if not value:
        return None
    value = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _absolute(base_url: str, href: str | None) -> str | None:
    if not href:
        return None
    url = urljoin(base_url, href.strip())
    return url if urlsplit(url).scheme in ("http", "https") else None


def _rss(root: Element, base_url: str) -> Iterator[DiscoveredItem]:
    channel = _child(root, "channel")
    language = _text(channel, "language") if channel is not None else None
    # RSS 1.0 (RDF) puts items beside the channel, RSS 2.0 inside it.
    items = [*_children(root, "item"), *(_children(channel, "item") if channel is not None else [])]
    for item in items:
        link = _text(item, "link")
        guid = _child(item, "guid")
        if link is None and guid is not None and guid.get("isPermaLink", "true") == "true":
            link = _text(guid)
        url = _absolute(base_url, link)
        if url is not None:
            published = _text(item, "pubdate") or _text(item, "date")  # dc:date in RSS 1.0
            lang = _text(item, "language") or language  # dc:language per item, if any
            yield DiscoveredItem(url, _text(item, "title"), parse_date(published), lang, "rss")


def _atom_link(entry: Element) -> str | None:
    for link in _children(entry, "link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def _atom(root: Element, base_url: str) -> Iterator[DiscoveredItem]:
    feed_lang = root.get(_XML_LANG)
    for entry in _children(root, "entry"):
        url = _absolute(base_url, _atom_link(entry))
        if url is not None:
            published = parse_date(_text(entry, "published") or _text(entry, "updated"))
            lang = entry.get(_XML_LANG) or feed_lang
            yield DiscoveredItem(url, _text(entry, "title"), published, lang, "atom")


def _sitemap(root: Element, base_url: str) -> Iterator[DiscoveredItem]:
    is_index = _local(root.tag) == "sitemapindex"
    for node in _children(root, "sitemap" if is_index else "url"):
        url = _absolute(base_url, _text(node, "loc"))
        if url is None:
            continue
        published = parse_date(_text(node, "lastmod"))
        news = _child(node, "news")
        if is_index or news is None:
            yield DiscoveredItem(
                url, None, published, None, "sitemap_index" if is_index else "sitemap"
            )
            continue
        publication = _child(news, "publication")
        language = _text(publication, "language") if publication is not None else None
        news_date = parse_date(_text(news, "publication_date")) or published
        yield DiscoveredItem(url, _text(news, "title"), news_date, language, "news_sitemap")


def parse_feed(body: bytes, base_url: str) -> list[DiscoveredItem]:
    """Items of an RSS 2.0/1.0 or Atom feed, a sitemap, a sitemap index or a news sitemap.

    Relative links are resolved against ``base_url``; non-http(s) links are skipped.
    Raises DiscoveryError for malformed or unsafe XML and for other document types.
    """
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise DiscoveryError(f"unreadable XML: {exc}") from exc
    kind = _local(root.tag)
    parsers = {
        "rss": _rss,
        "rdf": _rss,
        "feed": _atom,
        "urlset": _sitemap,
        "sitemapindex": _sitemap,
    }
    if kind not in parsers:
        raise DiscoveryError(f"not a feed or sitemap: <{kind}>")
    return list(parsers[kind](root, base_url))


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, list[str]]] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "base" and href and self.base is None:
            self.base = href
        elif tag == "a" and href:
            self._open = []
            self.links.append((href, self._open))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def extract_links(
    html: str, base_url: str, patterns: Iterable[str | re.Pattern[str]]
) -> list[DiscoveredItem]:
    """Links on a section page whose absolute URL matches one of ``patterns`` (re.search).

    Each URL is returned once, with the first non-empty anchor text as its title.
    """
    compiled: Sequence[re.Pattern[str]] = [re.compile(p) for p in patterns]
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    base = urljoin(base_url, collector.base) if collector.base else base_url
    found: dict[str, str | None] = {}
    for href, parts in collector.links:
        url = _absolute(base, href.split("#", 1)[0])
        if url is None or not any(p.search(url) for p in compiled):
            continue
        title = " ".join("".join(parts).split()) or None
        if found.get(url) is None:
            found[url] = title
    return [DiscoveredItem(url, title, None, None, "html") for url, title in found.items()]
