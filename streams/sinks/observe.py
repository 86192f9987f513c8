"""Metrics of what the sink stored. Only rows that changed count (inserted or updated), so a
replayed batch never counts twice and the content metrics describe the database."""

from __future__ import annotations

import time
from datetime import datetime

from streams.metrics import (
    ARTICLES_BY_LANGUAGE,
    ARTICLES_STORED,
    CLASSIFIER_CONFIDENCE,
    DUPLICATES,
    END_TO_END,
    EXTRACTION,
    FRESHNESS,
    RECORDS,
    SINK_BATCH_SIZE,
    SINK_WRITES,
    SOURCE_LAST_STORED,
    language_label,
)
from streams.records import ClassifiedArticle
from streams.sinks.postgres import BatchResult

STAGE = "sink"


def extraction_outcome(art: ClassifiedArticle) -> str:
    if art.published is None:
        return "missing_date"
    if not art.title.strip():
        return "missing_title"
    return "complete"


def _observe_article(art: ClassifiedArticle, now: datetime) -> None:
    source = art.source_id
    END_TO_END.labels(source).observe(max(0.0, (now - art.fetched_at).total_seconds()))
    if art.published is not None:
        FRESHNESS.labels(source).observe(max(0.0, (now - art.published).total_seconds()))
    SOURCE_LAST_STORED.labels(source).set(time.time())
    EXTRACTION.labels(extraction_outcome(art)).inc()
    language = language_label(art.language)
    ARTICLES_BY_LANGUAGE.labels(language).inc()
    for topic in art.topics or ["none"]:
        ARTICLES_STORED.labels(topic, language).inc()
    for topic in art.topics:
        CLASSIFIER_CONFIDENCE.labels(topic).observe(art.scores.get(topic, 0.0))


def observe_batch(result: BatchResult, now: datetime) -> None:
    """Count every record of a durable batch by its result."""
    SINK_BATCH_SIZE.observe(len(result.articles) + len(result.duplicates) + len(result.stories))
    for art, outcome in result.articles:
        SINK_WRITES.labels("articles", outcome).inc()
        RECORDS.labels(STAGE, outcome).inc()
        if outcome != "unchanged":
            _observe_article(art, now)
    for event, outcome in result.duplicates:
        SINK_WRITES.labels("duplicates", outcome).inc()
        RECORDS.labels(STAGE, f"duplicate_{outcome}").inc()
        if outcome == "inserted":
            DUPLICATES.labels(event.reason).inc()
    for _, outcome in result.stories:
        SINK_WRITES.labels("stories", outcome).inc()
        RECORDS.labels(STAGE, f"story_{outcome}").inc()
