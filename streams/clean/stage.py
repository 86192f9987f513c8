"""Stage 1, clean: RawPage bytes -> Article (decode, extract, clean text, metadata)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from streams.clean.boilerplate import TemplateLines
from streams.clean.dates import reconcile
from streams.clean.decode import decode_html
from streams.clean.extract import extract
from streams.clean.language import detect_language
from streams.clean.metadata import rubric_from_url
from streams.clean.textclean import clean_text
from streams.dedup.fingerprint import fingerprint
from streams.errors import ExtractionFailed
from streams.identity import CanonicalURLError, canonicalize, content_hash
from streams.records import (
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    Article,
    RawPage,
    SourceRef,
)
from streams.stage import Emit, StageResult
from streams.topology import CLEAN

# A plain-text page's first line is its headline only when it reads like one: short, and not
# a finished sentence (a lead paragraph ends with a full stop and belongs to the text).
_MAX_TITLE_CHARS = 160


def _plain_text(raw: RawPage) -> tuple[str, str]:
    decoded = decode_html(raw.body, content_type=raw.content_type)
    lines = [ln.strip() for ln in decoded.text.splitlines() if ln.strip()]
    if lines and len(lines[0]) <= _MAX_TITLE_CHARS and not lines[0].endswith("."):
        return lines[0], clean_text("\n".join(lines[1:]), None)
    return raw.feed_title or "", clean_text("\n".join(lines), None)


def _strip_template(
    raw: RawPage, origin: SourceRef | None, templates: TemplateLines, text: str
) -> str:
    # Counted per input partition: each key's changelog record then lives in one partition.
    ns = str(origin.partition) if origin is not None else "0"
    now = raw.fetched_at.timestamp()
    return templates.learn_and_strip(raw.source_id, raw.article_id, text, now, ns)


_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")

# Fewer words than this is a page without an article (the shortest wire flashes have more).
MIN_ARTICLE_WORDS = 5


def page_to_article(
    raw: RawPage, origin: SourceRef | None = None, templates: TemplateLines | None = None
) -> Article:
    """Turn one fetched page into an Article, or raise ExtractionFailed. With ``templates``,
    lines the page's source repeats on many pages are learned and stripped."""
    if not raw.body_b64:
        raise ExtractionFailed(f"{raw.final_url}: empty body", reason="empty_body")
    if (raw.content_type or "").startswith("text/plain"):
        title, text = _plain_text(raw)
        ex = None
    else:
        decoded = decode_html(raw.body, content_type=raw.content_type)
        ex = extract(decoded.text, url=raw.final_url)
        title, text = ex.title or raw.feed_title or "", ex.text
    # C0 control characters (NUL among them) are decoding accidents or junk, never text, and
    # PostgreSQL refuses NUL: gone before anything counts or stores the text.
    title, text = title.translate(_CONTROL), text.translate(_CONTROL)
    if templates is not None and text:
        text = _strip_template(raw, origin, templates, text)
    if len(text) > MAX_TEXT_CHARS:
        # Hundreds of pages of "text": a data dump or a hostile page, not an article.
        raise ExtractionFailed(
            f"{raw.final_url}: text of {len(text)} characters is over {MAX_TEXT_CHARS}",
            reason="too_long",
        )
    words = len(text.split())
    if words < MIN_ARTICLE_WORDS:
        # A menu or a cookie line left by the fallback extractor is not an article.
        raise ExtractionFailed(f"{raw.final_url}: no article text found ({words} words)")
    feed_language = (raw.feed_language or "")[:16] or None  # a feed's claim, unchecked
    language = (ex.language if ex else None) or detect_language(text) or feed_language
    try:
        canonical = canonicalize(raw.final_url)
    except CanonicalURLError as exc:  # e.g. javascript:, or no host: not a fetched web page
        raise ExtractionFailed(f"{raw.final_url[:200]!r}: {exc}", reason="bad_url") from exc
    if ex is not None and ex.canonical_url:
        with contextlib.suppress(CanonicalURLError):  # the page's own claim; ours stands
            canonical = canonicalize(ex.canonical_url)
    if len(canonical) > MAX_URL_CHARS:  # the page's own claim is unusable: keep the fetch's
        canonical = canonicalize(raw.final_url)[:MAX_URL_CHARS]
    return Article(
        article_id=raw.article_id,
        url=raw.final_url,
        canonical_url=canonical,
        source_id=raw.source_id,
        title=title[:MAX_TITLE_CHARS],
        text=text,
        author=ex.author if ex else None,
        published=reconcile(ex.published if ex else None, raw.feed_published, raw.fetched_at),
        language=language,
        alternates=dict(ex.alternates) if ex else {},
        rubric=ex.rubric if ex else rubric_from_url(raw.final_url),
        image_count=ex.image_count if ex else 0,
        link_count=ex.link_count if ex else 0,
        fetched_at=raw.fetched_at,
        content_hash=content_hash(text),
        fingerprint=fingerprint(text),
        extractor=ex.extractor if ex else "plain_text",
        raw=origin,
    )


_WARM_UP_HTML = (
    "<html lang='uk'><head><title>Київ і Львів</title></head><body><article>"
    + "<p>Уряд оголосив нові правила для міст і громад, які набудуть чинності наступного тижня.</p>"
    * 8
    + "</article></body></html>"
)


def warm_up() -> None:
    """Load what cleaning loads lazily on its first page (the language model, stop lists and
    rules: 0.5-2 s), so a worker pays it at start rather than on its first record."""
    extract(_WARM_UP_HTML, url="https://warm-up.invalid/")
    detect_language(_WARM_UP_HTML)
    fingerprint(_WARM_UP_HTML)


@dataclass
class CleanStage:
    templates: TemplateLines | None = None
    name: str = "clean"
    # On Kafka, a page whose key is not its article id (null, not UTF-8, another id) sits on a
    # partition chosen by that key, away from the other versions of its URL, so per-URL order
    # would break. Such a page is not cleaned there: it is republished to the same topic under
    # its article id (outcome "rekeyed") and cleaned when it comes round on the right partition.
    check_key: bool = False

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        raw = RawPage.from_json(value)
        wanted = raw.article_id.encode()
        if self.check_key and key != wanted:
            return StageResult("rekeyed", [Emit(origin.topic, wanted, value)])
        article = page_to_article(raw, origin, self.templates)
        return StageResult("ok", [Emit.record(CLEAN, article.article_id, article)])
