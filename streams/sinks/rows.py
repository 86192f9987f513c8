"""Records to table rows: pure functions, unit-tested without a database.

Rows travel to PostgreSQL as one JSON array per batch (``jsonb_to_recordset``): one round trip
and one statement per batch whatever its size, which is what makes the sink fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from streams.records import ClassifiedArticle, DuplicateEvent, StorySummary

# PostgreSQL's built-in snowball configurations for the pipeline's languages. Ukrainian has
# none in core PostgreSQL, so it is indexed with `simple` (lower-cased words, no stemming).
TEXT_CONFIGS = {
    "en": "english",
    "ru": "russian",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
}
FALLBACK_CONFIG = "simple"


def text_config(language: str | None) -> str:
    """The text search configuration for an article in ``language`` (ISO 639-1)."""
    return TEXT_CONFIGS.get((language or "").lower(), FALLBACK_CONFIG)


def _newer(a: ClassifiedArticle, b: ClassifiedArticle) -> bool:
    """Whether ``a`` should win over ``b``: the same order the upsert's WHERE clause applies."""
    return (a.revision, a.fetched_at) > (b.revision, b.fetched_at)


def latest_per_article(articles: Iterable[ClassifiedArticle]) -> list[ClassifiedArticle]:
    """One record per article id, the newest, in first-seen order. PostgreSQL refuses to
    update one row twice in a statement, and only the newest could win anyway."""
    best: dict[str, ClassifiedArticle] = {}
    for art in articles:
        held = best.get(art.article_id)
        if held is None or _newer(art, held):
            best[art.article_id] = art
    return list(best.values())


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; a page that smuggles one in must not wedge the sink.
    return value.replace("\x00", "")


def article_row(art: ClassifiedArticle) -> dict[str, Any]:
    return {
        "article_id": art.article_id,
        "revision": art.revision,
        "url": _text(art.url),
        "canonical_url": _text(art.canonical_url),
        "source_id": _text(art.source_id),
        "title": _text(art.title),
        "body": _text(art.text),
        "author": None if art.author is None else _text(art.author),
        "published": art.published,
        "language": art.language,
        "ts_config": text_config(art.language),
        "topics": list(art.topics),
        "iptc": list(art.iptc),
        "scores": art.scores,
        "classifier_version": art.classifier_version,
        "content_hash": art.content_hash,
        "extractor": art.extractor,
        "fetched_at": art.fetched_at,
        "classified_at": art.classified_at,
        "raw_origin": None if art.raw is None else art.raw.model_dump(),
        "rubric": None if art.rubric is None else _text(art.rubric),
        "story_id": art.story_id,
        "translation_of": art.translation_of,
    }


def latest_per_story(stories: Iterable[StorySummary]) -> list[StorySummary]:
    """One summary per story, the highest revision, in first-seen order (as for articles)."""
    best: dict[str, StorySummary] = {}
    for story in stories:
        held = best.get(story.story_id)
        if held is None or story.revision > held.revision:
            best[story.story_id] = story
    return list(best.values())


def story_row(s: StorySummary) -> dict[str, Any]:
    return {
        "story_id": s.story_id,
        "revision": s.revision,
        "headline": _text(s.headline),
        "representative": s.representative,
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
        "article_count": s.article_count,
        "languages": [_text(x) for x in s.languages],
        "outlets": [_text(x) for x in s.outlets],
        "desks": list(s.desks),
        "updated_at": s.updated_at,
    }


def duplicate_row(ev: DuplicateEvent) -> dict[str, Any]:
    return {
        "article_id": ev.article_id,
        "duplicate_of": ev.duplicate_of,
        "reason": ev.reason,
        "similarity": ev.similarity,
        "url": _text(ev.url),
        "source_id": _text(ev.source_id),
        "fetched_at": ev.fetched_at,
        "detected_at": ev.detected_at,
    }


def as_json(rows: Sequence[dict[str, Any]]) -> str:
    """orjson writes datetimes as RFC 3339, which PostgreSQL parses into timestamptz."""
    return orjson.dumps(list(rows)).decode()
