"""Stories in PostgreSQL: the summary upsert keeps the newest revision, articles name their
story and original, and `newsstream stories show` prints them (or says what is wrong)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from streams.records import ClassifiedArticle, StorySummary
from streams.sinks.postgres import connect, write_batch
from tests.conftest import make_article
from tests.integration.conftest import own_database

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STORY = "ab" * 16


def summary(revision: int, count: int, **kw: object) -> StorySummary:
    fields: dict[str, object] = {
        "story_id": STORY,
        "revision": revision,
        "headline": "Зеленський зустрівся з Макроном",
        "representative": STORY,
        "first_seen": T0,
        "last_seen": T0 + timedelta(hours=count),
        "article_count": count,
        "languages": ["ru", "uk"],
        "outlets": ["news.example"],
        "desks": ["diplomacy"],
    }
    return StorySummary(**(fields | kw))  # type: ignore[arg-type]


def article(aid: str, lang: str, translation_of: str | None = None) -> ClassifiedArticle:
    base = make_article(f"Текст {aid}", article_id=aid, language=lang, title=f"Title {aid}")
    fields = base.model_dump(exclude={"kind"}) | {
        "story_id": STORY,
        "translation_of": translation_of,
        "published": T0,
    }
    return ClassifiedArticle(**fields)


@pytest.fixture(scope="module")
def db_dsn(postgres_dsn: str) -> Iterator[str]:
    with own_database(postgres_dsn, "stories") as dsn:
        yield dsn


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(db_dsn)  # migrates
    yield connection
    await connection.close()


async def test_the_newest_summary_wins_whatever_the_order(conn: asyncpg.Connection) -> None:
    first = await write_batch(conn, [], [], [summary(1, 1), summary(2, 2)])
    assert [r for _, r in first.stories] == ["unchanged", "inserted"]  # one row, the newest
    late = await write_batch(conn, [], [], [summary(1, 1)])
    again = await write_batch(conn, [], [], [summary(2, 2)])
    assert [r for _, r in late.stories + again.stories] == ["unchanged", "unchanged"]
    row = await conn.fetchrow("SELECT * FROM stories WHERE story_id = $1", STORY)
    assert (row["revision"], row["article_count"]) == (2, 2)
    newer = await write_batch(conn, [], [], [summary(3, 3, languages=["en", "ru", "uk"])])
    assert [r for _, r in newer.stories] == ["updated"]
    row = await conn.fetchrow("SELECT * FROM stories WHERE story_id = $1", STORY)
    assert (row["revision"], row["article_count"], row["languages"]) == (3, 3, ["en", "ru", "uk"])


async def test_articles_name_their_story_and_original(conn: asyncpg.Connection) -> None:
    uk, ru = "c1" * 16, "c2" * 16
    await write_batch(conn, [article(uk, "uk"), article(ru, "ru", translation_of=uk)], [])
    rows = await conn.fetch(
        "SELECT article_id, story_id, translation_of FROM articles WHERE story_id = $1"
        " ORDER BY article_id",
        STORY,
    )
    assert [tuple(r) for r in rows] == [(uk, STORY, None), (ru, STORY, uk)]


def _cli(*args: str, dsn: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"NEWSSTREAM_POSTGRES_DSN": dsn, "NEWSSTREAM_STATE_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "streams", "stories", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_stories_show_prints_the_story_and_its_articles(db_dsn: str, tmp_path: Path) -> None:
    async def store() -> None:  # idempotent: the tests above may have written the same rows
        conn = await connect(db_dsn)
        try:
            uk, ru = article("c1" * 16, "uk"), article("c2" * 16, "ru", translation_of="c1" * 16)
            await write_batch(conn, [uk, ru], [], [summary(2, 2)])
        finally:
            await conn.close()

    asyncio.run(store())
    shown = _cli("show", STORY, dsn=db_dsn, tmp_path=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Зеленський зустрівся з Макроном" in shown.stdout
    assert "stored articles: 2" in shown.stdout
    assert f"translation of {'c1' * 16}" in shown.stdout
    unknown = _cli("show", "ef" * 16, dsn=db_dsn, tmp_path=tmp_path)
    assert unknown.returncode == 1
    assert f"no stored story {'ef' * 16}" in unknown.stderr
    nowhere = _cli("show", STORY, dsn="postgresql://u@127.0.0.1:9/none", tmp_path=tmp_path)
    assert nowhere.returncode == 1
    assert "cannot reach PostgreSQL" in nowhere.stderr
