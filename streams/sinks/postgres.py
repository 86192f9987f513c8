"""Idempotent PostgreSQL writes keyed by article id.

A replay of the same record changes nothing (the upsert's WHERE clause refuses it); a
revision of a URL updates the row and its revision; an older revision arriving late never
overwrites a newer one. Each write reports inserted / updated / unchanged for the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from streams.records import ClassifiedArticle, DuplicateEvent

Result = Literal["inserted", "updated", "unchanged"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id          text PRIMARY KEY,
    revision            integer NOT NULL,
    url                 text NOT NULL,
    canonical_url       text NOT NULL,
    source_id           text NOT NULL,
    title               text NOT NULL,
    body                text NOT NULL,
    author              text,
    published           timestamptz,
    language            text,
    topics              text[] NOT NULL,
    iptc                text[] NOT NULL,
    scores              jsonb NOT NULL,
    classifier_version  text NOT NULL,
    content_hash        text NOT NULL,
    fetched_at          timestamptz NOT NULL,
    stored_at           timestamptz NOT NULL DEFAULT now(),
    record              jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published_idx ON articles (published);
CREATE INDEX IF NOT EXISTS articles_topics_idx ON articles USING gin (topics);
CREATE TABLE IF NOT EXISTS duplicates (
    article_id    text NOT NULL,
    duplicate_of  text NOT NULL,
    reason        text NOT NULL,
    similarity    real NOT NULL,
    url           text NOT NULL,
    source_id     text NOT NULL,
    fetched_at    timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, duplicate_of, fetched_at)
);
"""

UPSERT_ARTICLE = """
INSERT INTO articles AS a (article_id, revision, url, canonical_url, source_id, title, body,
    author, published, language, topics, iptc, scores, classifier_version, content_hash,
    fetched_at, record)
VALUES (%(article_id)s, %(revision)s, %(url)s, %(canonical_url)s, %(source_id)s, %(title)s,
    %(text)s, %(author)s, %(published)s, %(language)s, %(topics)s, %(iptc)s, %(scores)s,
    %(classifier_version)s, %(content_hash)s, %(fetched_at)s, %(record)s)
ON CONFLICT (article_id) DO UPDATE SET
    revision = EXCLUDED.revision, url = EXCLUDED.url, canonical_url = EXCLUDED.canonical_url,
    title = EXCLUDED.title, body = EXCLUDED.body, author = EXCLUDED.author,
    published = EXCLUDED.published, language = EXCLUDED.language, topics = EXCLUDED.topics,
    iptc = EXCLUDED.iptc, scores = EXCLUDED.scores,
    classifier_version = EXCLUDED.classifier_version, content_hash = EXCLUDED.content_hash,
    fetched_at = EXCLUDED.fetched_at, record = EXCLUDED.record, stored_at = now()
WHERE a.revision < EXCLUDED.revision
   OR (a.revision = EXCLUDED.revision AND a.content_hash <> EXCLUDED.content_hash
       AND a.fetched_at < EXCLUDED.fetched_at)
RETURNING (xmax = 0) AS inserted
"""

INSERT_DUPLICATE = """
INSERT INTO duplicates (article_id, duplicate_of, reason, similarity, url, source_id, fetched_at)
VALUES (%(article_id)s, %(duplicate_of)s, %(reason)s, %(similarity)s, %(url)s, %(source_id)s,
    %(fetched_at)s)
ON CONFLICT DO NOTHING
RETURNING true
"""


async def ensure_schema(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> None:
    async with conn.transaction():
        await conn.execute(SCHEMA)


async def upsert_articles(
    conn: psycopg.AsyncConnection[tuple[Any, ...]], articles: Sequence[ClassifiedArticle]
) -> list[Result]:
    """Write a batch in the caller's transaction; one result per article, in order."""
    results: list[Result] = []
    async with conn.cursor() as cur:
        for art in articles:
            params = art.model_dump()
            params["scores"] = Jsonb(art.scores)
            params["record"] = Jsonb(art.model_dump(mode="json"))
            await cur.execute(UPSERT_ARTICLE, params)
            row = await cur.fetchone()
            results.append("unchanged" if row is None else "inserted" if row[0] else "updated")
    return results


async def insert_duplicates(
    conn: psycopg.AsyncConnection[tuple[Any, ...]], events: Sequence[DuplicateEvent]
) -> list[Result]:
    results: list[Result] = []
    async with conn.cursor() as cur:
        for ev in events:
            await cur.execute(INSERT_DUPLICATE, ev.model_dump())
            results.append("inserted" if await cur.fetchone() else "unchanged")
    return results
