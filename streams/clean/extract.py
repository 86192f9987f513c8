"""Main text and metadata of one page.

Fast path: lexbor (selectolax) parse, prune page furniture, pick the subtree with the most prose
(``density``). When that yields too little text (client-rendered shells, unusual templates),
trafilatura's ``fast`` mode runs as a fallback; it is several times slower, so it runs on a few
per cent of pages only. Both paths go through the same text cleaning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from selectolax.lexbor import LexborHTMLParser

from streams.clean import metadata
from streams.clean.blocks import page_blocks, prune
from streams.clean.dates import date_from_html
from streams.clean.decode import decode_html
from streams.clean.density import select_main
from streams.clean.language import detect_language
from streams.clean.textclean import clean_text

__all__ = ["Extracted", "extract"]

log = logging.getLogger(__name__)

# Pages are capped at the crawler's default body limit (5 MiB); past that it is not an article.
MAX_HTML_CHARS = 5 * 1024 * 1024
# Below this much main text the fast path probably missed the article; measured on the
# benchmark sets: it sends ~3 % of English pages to the fallback and none of the Russian ones.
FALLBACK_BELOW_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BINARY_SAMPLE = 8192
# Real pages have almost no control characters; a few per cent is already a binary body.
_BINARY_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str = ""
    text: str = ""
    author: str | None = None
    published: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    alternates: dict[str, str] = field(default_factory=dict)
    rubric: str | None = None
    image_count: int = 0
    link_count: int = 0
    extractor: str = "none"


def extract(html: str | bytes, *, url: str | None = None) -> Extracted:
    """Main text and metadata; never raises on bad input (returns empty text instead)."""
    try:
        return _extract(html, url)
    except Exception:  # a bad page must become an empty result, never a crashed worker
        log.warning("extraction failed for %s", url, exc_info=True)
        return Extracted(canonical_url=url, extractor="failed")


def _extract(html: str | bytes, url: str | None) -> Extracted:
    text = decode_html(html).text if isinstance(html, bytes) else html
    text = text[:MAX_HTML_CHARS].replace("\x00", "")
    if not text.strip() or _looks_binary(text):
        return Extracted(canonical_url=url)
    tree = LexborHTMLParser(text)
    title = metadata.title(tree)
    published = date_from_html(tree, url)
    if published is not None and published > datetime.now(UTC):
        published = None
    page = Extracted(
        title=title,
        author=metadata.author(tree),
        published=published,
        canonical_url=metadata.canonical_url(tree, url),
        alternates=metadata.alternates(tree, url),
        rubric=metadata.rubric(tree, url),  # before prune(): breadcrumbs sit in <nav>
        image_count=len(tree.css("img")),
        link_count=len(tree.css("a[href]")),
    )
    html_language = metadata.html_language(tree)
    prune(tree)
    main, method = _main_text(tree, title, text)
    language = detect_language(main) or html_language
    return replace(page, text=clean_text(main, language), language=language, extractor=method)


def _looks_binary(text: str) -> bool:
    """Images, archives and other non-text bodies decode to control and replacement chars."""
    sample = text[:_BINARY_SAMPLE]
    odd = len(_CONTROL.findall(sample)) + sample.count("\ufffd")
    return odd > _BINARY_SHARE * len(sample)


def _main_text(tree: LexborHTMLParser, title: str, html: str) -> tuple[str, str]:
    selection = select_main(page_blocks(tree), title)
    text = "\n".join(selection.paragraphs)
    if len(text) >= FALLBACK_BELOW_CHARS:
        return text, "density"
    fallback = _trafilatura(html)
    if len(fallback) > len(text):
        return fallback, "trafilatura-fast"
    return text, "density" if text else "none"


def _trafilatura(html: str) -> str:
    # Deferred: trafilatura takes ~0.4 s to import and only the slow path needs it.
    import trafilatura

    try:
        result = trafilatura.extract(html, fast=True, include_comments=False)
    except Exception:  # trafilatura is a best-effort fallback, not a reason to fail the page
        log.debug("trafilatura failed", exc_info=True)
        return ""
    return str(result or "")
