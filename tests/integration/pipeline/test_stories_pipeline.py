"""Stories end to end on the real broker: the demo site's Ukrainian and Russian versions of one
article go through a worker (clean, dedup, classify, stories) and the sink into PostgreSQL;
they share a story and the later one is linked as the translation; unrelated articles of the
same site do not join it or each other."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.demo.pages import DemoPage, page_by_key
from streams.identity import article_id, canonicalize
from streams.records import RawPage
from streams.settings import Settings
from streams.topology import ARTICLES, RAW, STORIES, Topology
from tests.conftest import make_raw
from tests.integration.conftest import own_database
from tests.integration.pipeline.conftest import Spawn, produce, wait_for
from tests.integration.test_run_demo import wait_sql

pytestmark = pytest.mark.integration

BASE = "http://demo.test"
# border-uk and border-ru: one article in two languages (hreflang both ways); the others are
# unrelated reports of the same site (sport in Ukrainian, crime in Russian, windows-1251).
HOURS_AGO = {"border-uk": 3.0, "border-ru": 2.0, "match-uk": 2.5, "fraud-ru": 1.0}


def recent(key: str, now: datetime, hours_ago: float) -> DemoPage:
    """The demo page published ``hours_ago`` before ``now``, its date in the paths (where
    the clean stage reads it first) moved to that day too. The story stage's window is
    relative to the newest article it saw, and other tests leave articles of 2026 on the
    shared topics, next to which the demo's March 2024 dates would be too old to keep."""
    when = now - timedelta(hours=hours_ago)

    def redate(path: str) -> str:
        return re.sub(r"/\d{4}/\d{2}/\d{2}/", f"/{when:%Y/%m/%d}/", path)

    page = page_by_key(key)
    story = dataclasses.replace(
        page.story,
        published=when,
        path=redate(page.story.path),
        alternates=tuple((lang, redate(path)) for lang, path in page.story.alternates),
    )
    return dataclasses.replace(page, path=redate(page.path), story=story)


def raw(page: DemoPage, now: datetime, base: str = BASE) -> RawPage:
    url = base + page.path
    page_raw = make_raw(
        page.render(base),
        url,
        article_id=article_id(canonicalize(url)),
        content_type=page.content_type,
    )
    return page_raw.model_copy(update={"fetched_at": now, "source_id": "demo"})


@pytest.fixture(scope="module")
def db_dsn(postgres_dsn: str) -> Iterator[str]:
    with own_database(postgres_dsn, "stories_e2e") as dsn:
        yield dsn


def test_demo_translations_share_a_story_and_unrelated_articles_do_not(
    spawn: Spawn,
    stream_topology: Topology,
    stream_settings: Settings,
    db_dsn: str,
    tmp_path: Path,
) -> None:
    worker = spawn("worker")
    sink = spawn("sink", extra_env={"NEWSSTREAM_POSTGRES_DSN": db_dsn})
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    pages = {key: raw(recent(key, now, hours), now) for key, hours in HOURS_AGO.items()}
    for page in pages.values():
        produce(stream_settings, RAW, page.article_id.encode(), page.to_json())
    ids = {key: p.article_id for key, p in pages.items()}

    out = {}
    for key, aid in ids.items():
        # The first one also waits for the worker's start (model load, group join).
        out[key] = wait_for(
            stream_settings,
            ARTICLES,
            lambda d, aid=aid: d["article_id"] == aid and d.get("story_id") is not None,
            timeout_s=240,
        )
    uk, ru = out["border-uk"], out["border-ru"]
    assert (uk["language"], ru["language"]) == ("uk", "ru")
    # Whichever version reached the story stage first is the original (they travel on
    # different partitions until then); the other names it, and both are in its story.
    first, second = (uk, ru) if ru["translation_of"] else (ru, uk)
    assert second["translation_of"] == first["article_id"]
    assert first["translation_of"] is None
    assert uk["story_id"] == ru["story_id"] == first["article_id"]
    others = {out["match-uk"]["story_id"], out["fraud-ru"]["story_id"]}
    assert len(others) == 2
    assert uk["story_id"] not in others

    story = wait_for(
        stream_settings,
        STORIES,
        lambda d: d["story_id"] == uk["story_id"] and d["article_count"] >= 2,
    )
    assert story["languages"] == ["ru", "uk"]
    assert story["outlets"] == ["demo.test"]
    assert story["representative"] == first["article_id"]
    assert story["headline"] == first["title"]

    # The sink stores both the summary and the articles' links.
    stored = f"SELECT count(*) FROM articles WHERE story_id = '{uk['story_id']}'"
    assert wait_sql(db_dsn, stored, timeout_s=60, at_least=2) == 2
    wait_sql(db_dsn, f"SELECT count(*) FROM stories WHERE story_id = '{uk['story_id']}'")
    env = os.environ | {"NEWSSTREAM_POSTGRES_DSN": db_dsn, "NEWSSTREAM_STATE_DIR": str(tmp_path)}
    shown = subprocess.run(
        [sys.executable, "-m", "streams", "stories", "show", uk["story_id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "stored articles: 2" in shown.stdout
    assert f"translation of {first['article_id']}" in shown.stdout

    # The worker counted what it did (its /metrics).
    port = worker.metrics_port  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'newsstream_stories_assigned_total{outcome="translation"}' in metrics
    assert "newsstream_stories_assign_seconds_count" in metrics
    assert worker.poll() is None
    assert sink.poll() is None
