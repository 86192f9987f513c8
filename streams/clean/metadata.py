"""Page metadata from the parsed tree: title, author, canonical URL, hreflang alternates,
the publisher's own section (rubric)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import chain
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "alternates",
    "author",
    "canonical_url",
    "html_language",
    "rubric",
    "rubric_from_url",
    "title",
]

_TITLE_SELECTORS = ('meta[property="og:title"]', 'meta[name="twitter:title"]')
_AUTHOR_SELECTORS = (
    'meta[name="author"]',
    'meta[property="article:author"]',
    'meta[name="byl"]',
    'meta[name="sailthru.author"]',
)


def _content(tree: LexborHTMLParser, selector: str) -> str:
    node = tree.css_first(selector)
    value = node.attributes.get("content") if node is not None else None
    return (value or "").strip()


def title(tree: LexborHTMLParser) -> str:
    for selector in _TITLE_SELECTORS:
        if found := _content(tree, selector):
            return found
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        if node is not None and (text := " ".join(node.text().split())):
            return text
    return ""


def author(tree: LexborHTMLParser) -> str | None:
    for selector in _AUTHOR_SELECTORS:
        found = _content(tree, selector)
        # article:author is often a profile URL, which is not a name.
        if found and not found.startswith("http"):
            return found
    for script in tree.css('script[type="application/ld+json"]'):
        if name := _jsonld_author(script.text()):
            return name
    return None


def _jsonld_author(raw: str) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            who = item.get("author")
            if isinstance(who, dict) and isinstance(who.get("name"), str):
                return str(who["name"]).strip() or None
            if isinstance(who, list) and who and isinstance(who[0], dict):
                name = who[0].get("name")
                return name.strip() if isinstance(name, str) and name.strip() else None
            if isinstance(who, str) and who.strip():
                return who.strip()
            stack.extend(v for v in item.values() if isinstance(v, list | dict))
    return None


def _href(node: LexborNode | None, base: str | None) -> str | None:
    if node is None:
        return None
    href = (node.attributes.get("href") or node.attributes.get("content") or "").strip()
    if not href:
        return None
    return urljoin(base, href) if base else href


def canonical_url(tree: LexborHTMLParser, url: str | None) -> str | None:
    found = _href(tree.css_first('link[rel="canonical"]'), url)
    return found or _href(tree.css_first('meta[property="og:url"]'), url) or url


def alternates(tree: LexborHTMLParser, url: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.css('link[rel="alternate"][hreflang]'):
        lang = (node.attributes.get("hreflang") or "").strip().lower()
        href = _href(node, url)
        if lang and href:
            found.setdefault(lang, href)
    return found


def html_language(tree: LexborHTMLParser) -> str | None:
    root = tree.css_first("html")
    lang = (root.attributes.get("lang") or "") if root is not None else ""
    code = lang.strip().lower().split("-")[0].split("_")[0]
    return code if len(code) == 2 and code.isalpha() else None


# --- rubric: the section the publisher files the article under ---------------------------------

_SECTION_SELECTORS = (
    'meta[property="article:section"]',
    'meta[name="article:section"]',
    'meta[name="section"]',
    'meta[itemprop="articleSection"]',
)
_BREADCRUMB_SELECTOR = (
    '[itemtype*="BreadcrumbList"], nav[aria-label*="breadcrumb" i], .breadcrumb, .breadcrumbs'
)
# Words that name no section, as URL path segments or as a stated section ("News" says nothing
# about the topic; the next source may): "news" in the languages we crawl, article-type and
# format markers. Two-letter language codes (ru, uk, ua, en) need no entry: see _MIN_SLUG_CHARS.
_GENERIC_SEGMENTS = frozenset(
    {"news", "novosti", "novyny", "novini", "новости", "новини", "article", "articles", "amp",
     "post", "posts", "story", "stories", "rus", "ukr", "eng", "index", "item", "view", "archive"}
)  # fmt: skip
# The first crumb of most trails; matched on its text when its link is not the site root.
_HOME_NAMES = frozenset({"home", "homepage", "main", "главная", "головна", "начало", "/"})
# A section slug: up to three words of letters joined by hyphens or underscores ("v-mire",
# "hi-tech", "nauka-i-tehnika"); a longer one is an article's headline slug.
_SLUG = re.compile(r"[^\W\d_]+(?:[-_][^\W\d_]+){0,2}")
_MIN_SLUG_CHARS = 3
# A crumb of more words than this is the article's headline, not a section name.
_MAX_SECTION_WORDS = 6
_MAX_RUBRIC_CHARS = 80


def rubric(tree: LexborHTMLParser, url: str | None) -> str | None:
    """The publisher's own section of the article, lower-cased, or None.

    Tried from the most to the least deliberate statement: ``article:section``-style meta tags,
    JSON-LD ``articleSection``, breadcrumbs (JSON-LD, then HTML), and last the URL path, which
    names a section on many sites but guesses the most. Call it before pruning (nav goes)."""
    jsonld = list(_jsonld_dicts(tree))
    page_title = title(tree)
    candidates = chain(
        (_content(tree, selector) for selector in _SECTION_SELECTORS),
        (_jsonld_section(data) for data in jsonld),
        (_jsonld_crumb(data, page_title, url) for data in jsonld),
    )
    for candidate in candidates:
        if found := _normalise(candidate):
            return found
    return _normalise(_html_crumb(tree, page_title, url)) or rubric_from_url(url)


def rubric_from_url(url: str | None) -> str | None:
    """The first path segment that reads as a section slug (``/kriminal/…``, ``/ru/news/
    politics/…``); the last segment is the article's own slug and never counts."""
    if not url:
        return None
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s]
    for segment in segments[:-1]:
        word = segment.lower()
        if len(word) >= _MIN_SLUG_CHARS and _SLUG.fullmatch(word) and (found := _normalise(word)):
            return found
    return None


def _normalise(value: object) -> str | None:
    """Whitespace collapsed, separators trimmed, lower-cased, at most 80 characters; None for
    nothing or a generic word ("news"), so that the next source gets its turn."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split()).strip(" /|›»>·•–—:").lower()[:_MAX_RUBRIC_CHARS].rstrip()
    return text if text and text not in _GENERIC_SEGMENTS else None


def _jsonld_dicts(tree: LexborHTMLParser) -> Iterator[dict[str, Any]]:
    """Every object in the JSON-LD blocks in document order, nested ones and ``@graph``
    members included; a block that is not valid JSON is skipped (pages ship broken ones)."""
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            stack: list[Any] = [json.loads(script.text())]
        except ValueError:
            continue
        while stack:
            item = stack.pop()
            children = item if isinstance(item, list) else []
            if isinstance(item, dict):
                yield item
                children = [v for v in item.values() if isinstance(v, list | dict)]
            stack.extend(reversed(children))


def _jsonld_section(data: dict[str, Any]) -> str | None:
    """``articleSection`` is a string or, on some sites, a list whose first entry is the main
    section."""
    section = data.get("articleSection")
    if isinstance(section, list):
        section = next((s for s in section if isinstance(s, str) and s.strip()), None)
    return section if isinstance(section, str) else None


def _jsonld_crumb(data: dict[str, Any], page_title: str, url: str | None) -> str | None:
    """The deepest crumb of a JSON-LD ``BreadcrumbList`` that is neither the home page nor
    the article itself (trails often end with the headline)."""
    kind = data.get("@type")
    if "BreadcrumbList" not in (kind if isinstance(kind, list) else [kind]):
        return None
    items = data.get("itemListElement")
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if all(isinstance(i.get("position"), int) for i in items):
        items.sort(key=lambda i: i["position"])
    for item in reversed(items):
        target = item.get("item")
        name = item.get("name") or (target.get("name") if isinstance(target, dict) else None)
        if isinstance(target, dict):
            target = target.get("@id") or target.get("url")
        href = target if isinstance(target, str) else None
        if isinstance(name, str) and _is_section_crumb(name, href, page_title, url):
            return name
    return None


def _html_crumb(tree: LexborHTMLParser, page_title: str, url: str | None) -> str | None:
    """The last link of an HTML breadcrumb trail that is neither home nor the article."""
    for container in tree.css(_BREADCRUMB_SELECTOR):
        for link in reversed(container.css("a")):
            href = _href(link, url)
            if _is_section_crumb(link.text(), href, page_title, url):
                return link.text()
    return None


def _is_section_crumb(name: str, href: str | None, page_title: str, url: str | None) -> bool:
    """A crumb names a section unless it is empty, the home page (site or language root, or
    named so) or the article (its URL, its title, or headline-long)."""
    text = " ".join(name.split()).casefold()
    if not text or text in _HOME_NAMES or len(text.split()) > _MAX_SECTION_WORDS:
        return False
    if text == " ".join(page_title.split()).casefold():
        return False
    if href:
        target = urljoin(url, href) if url else href
        path = urlsplit(target).path.strip("/")
        if not path or (len(path) == 2 and path.isalpha()):
            return False
        if url and target.rstrip("/") == url.rstrip("/"):
            return False
    return True
