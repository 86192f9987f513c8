"""Read side of the articles table: the filters behind ``newsstream articles search``.

The SQL is built from fixed fragments with numbered parameters only, never from user text.
A text query is matched with the configuration of each article's language; without
``--language`` the three configurations the pipeline uses are tried together, each of which
can use the GIN index on ``search``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from streams.sinks.rows import text_config

SEARCH_CONFIGS = ("english", "russian", "simple")
_SELECT = (
    "SELECT article_id, revision, revision_count, source_id, language, topics, iptc,"
    " published, fetched_at, stored_at, title, url FROM articles"
)


@dataclass(frozen=True)
class ArticleQuery:
    text: str | None = None
    topic: str | None = None
    iptc: str | None = None
    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20


def _text_clause(q: ArticleQuery, param: str) -> str:
    configs = [text_config(q.language)] if q.language else list(SEARCH_CONFIGS)
    parts = [f"search @@ websearch_to_tsquery('{c}', {param})" for c in configs]
    return "(" + " OR ".join(parts) + ")"


# Query field -> its WHERE clause, {} standing for the value's $n placeholder.
_FILTERS = (
    ("topic", "topics @> ARRAY[{}]::text[]"),
    ("iptc", "iptc @> ARRAY[{}]::text[]"),
    ("source", "source_id = {}"),
    ("language", "language = {}"),
    ("since", "coalesce(published, fetched_at) >= {}"),
    ("until", "coalesce(published, fetched_at) < {}"),
)


def build_search(q: ArticleQuery) -> tuple[str, list[Any]]:
    """SQL and parameters for ``q``; newest publication first (fetch time when undated)."""
    where: list[str] = []
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if q.text:
        where.append(_text_clause(q, param(q.text)))
    for field, template in _FILTERS:
        value = getattr(q, field)
        if value:
            where.append(template.format(param(value)))
    clauses = " WHERE " + " AND ".join(where) if where else ""
    order = f" ORDER BY coalesce(published, fetched_at) DESC, article_id LIMIT {param(q.limit)}"
    # Only fixed fragments and $n placeholders are joined here; values travel as parameters.
    sql = _SELECT + clauses + order
    return sql, params


async def search(conn: asyncpg.Connection, q: ArticleQuery) -> list[asyncpg.Record]:
    sql, params = build_search(q)
    return await conn.fetch(sql, *params)


async def get_article(conn: asyncpg.Connection, article_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.*, (SELECT count(*) FROM duplicates d WHERE d.duplicate_of = a.article_id)"
        " AS duplicates FROM articles a WHERE article_id = $1",
        article_id,
    )


async def get_story(
    conn: asyncpg.Connection, story_id: str
) -> tuple[asyncpg.Record | None, list[asyncpg.Record]]:
    """A story's stored summary (None if not stored) and its stored articles, oldest first."""
    story = await conn.fetchrow("SELECT * FROM stories WHERE story_id = $1", story_id)
    articles = await conn.fetch(
        "SELECT article_id, source_id, language, title, url, published, fetched_at,"
        " translation_of, topics FROM articles WHERE story_id = $1"
        " ORDER BY coalesce(published, fetched_at), article_id",
        story_id,
    )
    return story, list(articles)
