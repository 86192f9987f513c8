"""The storage side of the sink against a real PostgreSQL: idempotent upserts, revisions,
duplicates, migrations, full-text search per language and the `articles search` CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from streams.records import ClassifiedArticle, DuplicateEvent
from streams.sinks.migrate import migrate
from streams.sinks.postgres import connect, write_batch
from streams.sinks.query import ArticleQuery, search
from tests.conftest import make_article
from tests.integration.conftest import own_database

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TEXTS = {
    "en": "Diplomats resumed peace talks in Geneva after explosions hit the power station.",
    "ru": "Дипломаты возобновили переговоры в Женеве после взрывов на электростанции.",
    "uk": "Дипломати відновили переговори у Женеві після вибухів на електростанції.",
}


def article(aid: str, lang: str = "en", revision: int = 0, **kw: Any) -> ClassifiedArticle:
    text = kw.pop("text", TEXTS[lang])
    base = make_article(text, article_id=aid, revision=revision, language=lang)
    fields = base.model_dump(exclude={"kind"}) | {
        "topics": ["diplomacy", "infrastructure"],
        "iptc": ["medtop:11000000"],
        "scores": {"diplomacy": 0.9, "infrastructure": 0.55},
        "classifier_version": "test-1",
        "published": T0 - timedelta(hours=1),
        "source_id": f"src-{lang}",
    }
    return ClassifiedArticle(**(fields | kw))


@pytest.fixture(scope="module")
def db_dsn(postgres_dsn: str) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL."""
    with own_database(postgres_dsn, "store") as dsn:
        yield dsn


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(db_dsn)
    yield connection
    await connection.close()


async def snapshot(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM articles WHERE article_id = ANY($1) ORDER BY article_id", ids
    )
    return [dict(r) for r in rows]


async def test_replaying_the_same_input_leaves_identical_rows(conn: asyncpg.Connection) -> None:
    batch = [article(f"{i:02x}" * 16, ("en", "ru", "uk")[i % 3]) for i in range(1, 31)]
    ids = [a.article_id for a in batch]
    first = await write_batch(conn, batch, [])
    assert {r for _, r in first.articles} == {"inserted"}
    before = await snapshot(conn, ids)
    again = await write_batch(conn, batch, [])
    again_split = await write_batch(conn, batch[:7], []), await write_batch(conn, batch[7:], [])
    assert {r for _, r in again.articles} == {"unchanged"}
    assert {r for part in again_split for _, r in part.articles} == {"unchanged"}
    after = await snapshot(conn, ids)
    assert len(before) == 30
    assert after == before  # every column, stored_at and the search vector included


async def test_revision_updates_and_late_old_revision_does_not(conn: asyncpg.Connection) -> None:
    aid = "e1" * 16
    v0 = article(aid, text="Police detained two suspects after a robbery.")
    v1 = article(aid, revision=1, text="Police detained three suspects after a robbery.",
                 fetched_at=T0 + timedelta(minutes=10))  # fmt: skip
    assert (await write_batch(conn, [v0], [])).articles[0][1] == "inserted"
    (row0,) = await snapshot(conn, [aid])
    assert (await write_batch(conn, [v1], [])).articles[0][1] == "updated"
    (row1,) = await snapshot(conn, [aid])
    assert (row1["revision"], row1["revision_count"]) == (1, 2)
    assert "three suspects" in row1["body"]
    assert row1["first_stored_at"] == row0["first_stored_at"]
    assert row1["stored_at"] > row0["stored_at"]
    assert (await write_batch(conn, [v0, v1], [])).articles[0][1] == "unchanged"
    assert await snapshot(conn, [aid]) == [row1]
    # Both revisions of a new article in one batch: the newest is stored, once.
    bid = "e2" * 16
    both = await write_batch(conn, [article(bid, revision=1), article(bid)], [])
    assert [r for _, r in both.articles] == ["inserted", "unchanged"]
    assert (await snapshot(conn, [bid]))[0]["revision"] == 1


async def test_duplicates_point_at_the_original(conn: asyncpg.Connection) -> None:
    original = article("f1" * 16)
    event = DuplicateEvent(article_id="f2" * 16, duplicate_of=original.article_id,
                           reason="near_duplicate", similarity=0.93, url="https://x.example/2",
                           source_id="src-x", fetched_at=T0)  # fmt: skip
    result = await write_batch(conn, [original], [event, event])
    assert [r for _, r in result.duplicates] == ["inserted", "unchanged"]
    assert (await write_batch(conn, [], [event])).duplicates[0][1] == "unchanged"
    rows = await conn.fetch(
        "SELECT a.article_id FROM duplicates d JOIN articles a ON a.article_id = d.duplicate_of"
        " WHERE d.article_id = $1",
        event.article_id,
    )
    assert [r["article_id"] for r in rows] == [original.article_id]


async def test_search_by_text_per_language_topic_source_and_time(
    conn: asyncpg.Connection,
) -> None:
    ids = {lang: f"{n}a" * 16 for n, lang in zip("789", TEXTS, strict=True)}
    await write_batch(conn, [article(aid, lang) for lang, aid in ids.items()], [])

    async def found(**kw: Any) -> set[str]:
        rows = await search(conn, ArticleQuery(limit=100, **kw))
        return {r["article_id"] for r in rows} & set(ids.values())

    # english and russian stem: another word form finds the article; Ukrainian (simple) needs
    # the word as written.
    assert await found(text="explosion") == {ids["en"]}
    assert await found(text="переговоров", language="ru") == {ids["ru"]}
    assert await found(text="переговори", language="uk") == {ids["uk"]}
    # Without a language every configuration is tried: the Russian stemmer reduces the
    # Ukrainian word to a stem the Russian article shares, so both match.
    assert await found(text="переговори") == {ids["uk"], ids["ru"]}
    assert await found(text="переговорами", language="uk") == set()
    assert await found(text='"peace talks" -football') == {ids["en"]}
    assert await found(topic="diplomacy", source="src-uk") == {ids["uk"]}
    assert await found(iptc="medtop:11000000", language="ru") == {ids["ru"]}
    assert await found(topic="sport") == set()
    assert await found(since=T0 - timedelta(hours=2), until=T0) == set(ids.values())
    assert await found(since=T0) == set()


async def test_migrations_apply_once(conn: asyncpg.Connection) -> None:
    assert await migrate(conn) == []
    versions = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in versions] == [
        (1, "0001_articles.sql"),
        (2, "0002_article_rubric.sql"),
        (3, "0003_stories.sql"),
    ]


async def test_publisher_rubric_is_stored_and_updated_by_a_revision(
    conn: asyncpg.Connection,
) -> None:
    aid = "e4" * 16
    await write_batch(conn, [article(aid, "uk", rubric="кримінал")], [])
    assert await conn.fetchval("SELECT rubric FROM articles WHERE article_id = $1", aid) == (
        "кримінал"
    )
    await write_batch(conn, [article(aid, "uk", revision=1, text="Оновлено: " + TEXTS["uk"])], [])
    assert await conn.fetchval("SELECT rubric FROM articles WHERE article_id = $1", aid) is None


def test_articles_cli_prints_stored_rows(db_dsn: str, tmp_path: Any) -> None:
    async def store() -> None:
        c = await connect(db_dsn)
        try:
            await write_batch(c, [article("d7" * 16, "uk", title="Переговори в Женеві")], [])
        finally:
            await c.close()

    asyncio.run(store())
    env = os.environ | {"NEWSSTREAM_POSTGRES_DSN": db_dsn, "NEWSSTREAM_STATE_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "streams", "articles", "search", "--text", "Женеві",
           "--language", "uk", "--since", "2026-10-01"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Переговори в Женеві" in done.stdout
    assert "d7" * 16 in done.stdout
    show = subprocess.run(
        [sys.executable, "-m", "streams", "articles", "show", "d7" * 16],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert show.returncode == 0, show.stderr
    assert '"revision_count": 1' in show.stdout
    assert TEXTS["uk"] in show.stdout


async def test_a_huge_page_of_distinct_words_is_stored(conn: asyncpg.Connection) -> None:
    # ~1 MB of distinct words (the most an Article may carry): more lexemes, with their
    # positions, than one tsvector may hold (1 MB).
    words = " ".join(f"w{i:07d}x" for i in range(99_000))
    big = article("ab" * 16, text="Needle headline. " + words)
    assert (await write_batch(conn, [big], [])).articles[0][1] == "inserted"
    rows = await search(conn, ArticleQuery(text="needle", language="en"))
    assert [r["article_id"] for r in rows] == [big.article_id]
    stored = await conn.fetchval("SELECT length(body) FROM articles WHERE article_id = $1",
                                 big.article_id)  # fmt: skip
    assert stored == len(big.text)
