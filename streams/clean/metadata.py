"""Page metadata from the parsed tree: title, author, canonical URL, hreflang alternates."""

from __future__ import annotations

import json
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["alternates", "author", "canonical_url", "html_language", "title"]

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
