"""Pure parts of the sink: rows, winner per article, text configs, query building, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import orjson
import pytest

from streams.cli.articles import parse_when
from streams.health import Health
from streams.metrics import language_label
from streams.records import ClassifiedArticle
from streams.sinks.migrate import load_migrations
from streams.sinks.observe import extraction_outcome
from streams.sinks.query import ArticleQuery, build_search
from streams.sinks.rows import article_row, as_json, latest_per_article, text_config
from tests.conftest import make_article

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def classified(
    aid: str, revision: int = 0, fetched: datetime = T0, **kw: object
) -> ClassifiedArticle:
    art = make_article("text " + aid, article_id=aid, revision=revision, fetched_at=fetched)
    fields = art.model_dump(exclude={"kind"}) | {"topics": ["crime"], "scores": {"crime": 0.7}}
    return ClassifiedArticle(**(fields | kw))


@pytest.mark.parametrize(
    ("language", "config"),
    [("en", "english"), ("ru", "russian"), ("uk", "simple"), (None, "simple"), ("EN", "english")],
)
def test_text_config_by_language(language: str | None, config: str) -> None:
    assert text_config(language) == config


def test_latest_per_article_keeps_newest_revision_then_fetch() -> None:
    a0 = classified("a1" * 16)
    a1 = classified("a1" * 16, revision=1)
    a1_later = classified("a1" * 16, revision=1, fetched=T0 + timedelta(minutes=5))
    b = classified("b2" * 16)
    assert latest_per_article([a0, b, a1_later, a1]) == [a1_later, b]
    assert latest_per_article([a0, a0]) == [a0]


def test_article_row_is_json_for_postgres() -> None:
    art = classified("c3" * 16, language="uk", title="bad\x00title", iptc=["medtop:02000000"])
    row = article_row(art)
    assert row["ts_config"] == "simple"
    assert row["title"] == "badtitle"  # PostgreSQL text cannot hold NUL
    decoded = orjson.loads(as_json([row]))[0]
    assert decoded["fetched_at"] == "2026-11-01T12:00:00+00:00"
    assert decoded["topics"] == ["crime"]
    assert decoded["iptc"] == ["medtop:02000000"]


def test_build_search_uses_parameters_only() -> None:
    hostile = "x'; DROP TABLE articles; --"
    sql, params = build_search(ArticleQuery(text=hostile, topic="crime", source="s", limit=5))
    assert hostile not in sql
    assert params == [hostile, "crime", "s", 5]
    assert sql.count("websearch_to_tsquery") == 3  # english, russian, simple
    sql, params = build_search(ArticleQuery(text="війна", language="uk", since=T0))
    assert "websearch_to_tsquery('simple', $1)" in sql
    assert "'english'" not in sql
    assert params == ["війна", "uk", T0, 20]
    sql, params = build_search(ArticleQuery())
    assert "WHERE" not in sql
    assert params == [20]


def test_parse_when() -> None:
    assert parse_when("2h", T0) == T0 - timedelta(hours=2)
    assert parse_when("1w", T0) == T0 - timedelta(weeks=1)
    assert parse_when("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(click.BadParameter):
        parse_when("yesterday")


def test_labels_are_bounded() -> None:
    assert [language_label(x) for x in ("uk", "xx", None, "")] == [
        "uk",
        "other",
        "unknown",
        "unknown",
    ]
    assert extraction_outcome(classified("d4" * 16, published=None)) == "missing_date"
    assert extraction_outcome(classified("d4" * 16, published=T0)) == "complete"


def test_migrations_are_numbered_and_packaged() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert "CREATE TABLE articles" in migrations[0].sql


def test_health_readiness_and_liveness() -> None:
    health = Health()
    assert health.readiness() == (True, [])
    assert health.liveness() == (True, [])
    health.set_ready("sink", False, "PostgreSQL unavailable")
    assert health.readiness() == (False, ["sink: not ready PostgreSQL unavailable"])
    health.set_ready("sink", True)
    assert health.readiness()[0]
    health.beat("sink", deadline_s=0.0)
    assert not health.liveness()[0]
    health.beat("sink", deadline_s=60.0)
    assert health.liveness()[0]
