"""Idempotent, batched PostgreSQL writes keyed by article id (asyncpg).

Why asyncpg: the sink lives on the same asyncio loop as its Kafka consumer, and asyncpg's
binary protocol and single-round-trip statements give the highest batch throughput
(bench/sink.py). A batch is one transaction of at most two statements, each taking the whole
batch as one JSON array.

A replay of a record changes nothing (the upsert's WHERE clause refuses it, so ``stored_at``
and ``revision_count`` stay put); a revision of a URL updates the row and bumps its
``revision_count``; an older revision arriving late never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import asyncpg

from streams.records import ClassifiedArticle, DuplicateEvent
from streams.sinks.migrate import migrate
from streams.sinks.rows import article_row, as_json, duplicate_row, latest_per_article

Result = Literal["inserted", "updated", "unchanged"]

# Errors after which the same batch may well succeed later: the server is gone, restarting,
# out of connections or disk, or the transaction lost a race. Anything else is about the data.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
)

UPSERT_ARTICLES = """
INSERT INTO articles AS a (article_id, revision, url, canonical_url, source_id, title, body,
    author, published, language, ts_config, topics, iptc, scores, classifier_version,
    content_hash, extractor, fetched_at, classified_at, raw_origin, rubric)
SELECT r.article_id, r.revision, r.url, r.canonical_url, r.source_id, r.title, r.body,
    r.author, r.published, r.language, r.ts_config::regconfig, r.topics, r.iptc, r.scores,
    r.classifier_version, r.content_hash, r.extractor, r.fetched_at, r.classified_at,
    r.raw_origin, r.rubric
FROM jsonb_to_recordset($1::jsonb) AS r(article_id text, revision integer, url text,
    canonical_url text, source_id text, title text, body text, author text,
    published timestamptz, language text, ts_config text, topics text[], iptc text[],
    scores jsonb, classifier_version text, content_hash text, extractor text,
    fetched_at timestamptz, classified_at timestamptz, raw_origin jsonb, rubric text)
-- Replays are filtered out before the INSERT builds their row (and its search vector): the
-- common case after a restart costs an index probe. ON CONFLICT's WHERE still decides races.
WHERE NOT EXISTS (
    SELECT 1 FROM articles x WHERE x.article_id = r.article_id
    AND (x.revision > r.revision OR (x.revision = r.revision
        AND (x.content_hash = r.content_hash OR x.fetched_at >= r.fetched_at))))
ON CONFLICT (article_id) DO UPDATE SET
    revision = EXCLUDED.revision, revision_count = a.revision_count + 1,
    url = EXCLUDED.url, canonical_url = EXCLUDED.canonical_url, source_id = EXCLUDED.source_id,
    title = EXCLUDED.title, body = EXCLUDED.body, author = EXCLUDED.author,
    published = EXCLUDED.published, language = EXCLUDED.language,
    ts_config = EXCLUDED.ts_config, topics = EXCLUDED.topics, iptc = EXCLUDED.iptc,
    scores = EXCLUDED.scores, classifier_version = EXCLUDED.classifier_version,
    content_hash = EXCLUDED.content_hash, extractor = EXCLUDED.extractor,
    fetched_at = EXCLUDED.fetched_at, classified_at = EXCLUDED.classified_at,
    raw_origin = EXCLUDED.raw_origin, rubric = EXCLUDED.rubric, stored_at = now()
WHERE a.revision < EXCLUDED.revision
   OR (a.revision = EXCLUDED.revision AND a.content_hash <> EXCLUDED.content_hash
       AND a.fetched_at < EXCLUDED.fetched_at)
RETURNING a.article_id, (a.xmax = 0) AS inserted
"""

INSERT_DUPLICATES = """
INSERT INTO duplicates (article_id, duplicate_of, reason, similarity, url, source_id,
    fetched_at, detected_at)
SELECT r.article_id, r.duplicate_of, r.reason, r.similarity, r.url, r.source_id,
    r.fetched_at, r.detected_at
FROM jsonb_to_recordset($1::jsonb) AS r(article_id text, duplicate_of text, reason text,
    similarity real, url text, source_id text, fetched_at timestamptz, detected_at timestamptz)
ON CONFLICT DO NOTHING
RETURNING article_id, duplicate_of, fetched_at
"""


@dataclass
class BatchResult:
    """What happened to each record of a batch, in input order."""

    articles: list[tuple[ClassifiedArticle, Result]] = field(default_factory=list)
    duplicates: list[tuple[DuplicateEvent, Result]] = field(default_factory=list)


async def write_batch(
    conn: asyncpg.Connection,
    articles: Sequence[ClassifiedArticle],
    duplicates: Sequence[DuplicateEvent],
) -> BatchResult:
    """Write a batch in one transaction; when this returns, the batch is durable."""
    winners = latest_per_article(articles)
    async with conn.transaction():
        art_rows = []
        if winners:
            art_rows = await conn.fetch(UPSERT_ARTICLES, as_json([article_row(a) for a in winners]))
        dup_rows = []
        if duplicates:
            dup_rows = await conn.fetch(
                INSERT_DUPLICATES, as_json([duplicate_row(d) for d in duplicates])
            )
    written: dict[str, Result] = {
        r["article_id"]: "inserted" if r["inserted"] else "updated" for r in art_rows
    }
    chosen = {id(a) for a in winners}
    result = BatchResult()
    for art in articles:
        outcome = written.get(art.article_id) if id(art) in chosen else None
        result.articles.append((art, outcome or "unchanged"))
    new_dups = {(r["article_id"], r["duplicate_of"], r["fetched_at"]) for r in dup_rows}
    for ev in duplicates:
        key = (ev.article_id, ev.duplicate_of, ev.fetched_at)
        result.duplicates.append((ev, "inserted" if key in new_dups else "unchanged"))
        new_dups.discard(key)  # the same event twice in a batch: only the first is new
    return result


async def connect(dsn: str, timeout_s: float = 10.0) -> asyncpg.Connection:
    """Open a connection and bring the schema up to date (migrations are idempotent)."""
    conn = await asyncpg.connect(dsn, timeout=timeout_s)
    try:
        await migrate(conn)
    except BaseException:
        await conn.close()
        raise
    return conn
