"""The sink writes to a real PostgreSQL idempotently and commits after the write."""

from __future__ import annotations

import subprocess
import time

import psycopg
import pytest

from streams.records import ClassifiedArticle, DuplicateEvent
from streams.settings import Settings
from streams.topology import ARTICLES, DLQ, DUPLICATES, Topology
from tests.conftest import make_article
from tests.integration.pipeline.conftest import Spawn, produce, wait_for

pytestmark = pytest.mark.integration


def classified(article_id: str, text: str, revision: int = 0) -> ClassifiedArticle:
    art = make_article(text, article_id=article_id, revision=revision)
    return ClassifiedArticle(**art.model_dump(exclude={"kind"}), topics=["crime"],
                             scores={"crime": 0.8}, classifier_version="test")


def row(dsn: str, article_id: str) -> tuple | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT revision, body, stored_at FROM articles WHERE article_id = %s", (article_id,)
        ).fetchone()


def wait_row(dsn: str, article_id: str, revision: int, timeout_s: float = 60) -> tuple:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = row(dsn, article_id)
        if found is not None and found[0] == revision:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{article_id} revision {revision} not stored in {timeout_s}s")


@pytest.fixture(scope="module")
def sink(spawn: Spawn, stream_topology: Topology, postgres_dsn: str) -> subprocess.Popen[bytes]:
    return spawn("sink", extra_env={"NEWSSTREAM_POSTGRES_DSN": postgres_dsn})


def test_upsert_insert_replay_revision_and_late_old_revision(
    sink: subprocess.Popen[bytes], stream_settings: Settings, postgres_dsn: str
) -> None:
    aid = "5a" * 16
    first = classified(aid, "Police detained two suspects after a robbery in the city centre.")
    produce(stream_settings, ARTICLES, aid.encode(), first.to_json())
    stored = wait_row(postgres_dsn, aid, 0)
    produce(stream_settings, ARTICLES, aid.encode(), first.to_json())  # a replay
    revised = classified(aid, first.text + " Updated: a third suspect was arrested.", 1)
    produce(stream_settings, ARTICLES, aid.encode(), revised.to_json())
    after = wait_row(postgres_dsn, aid, 1)
    assert "third suspect" in after[1]
    produce(stream_settings, ARTICLES, aid.encode(), first.to_json())  # late, older revision
    marker = classified("6b" * 16, "Another article to know the sink has moved on.")
    produce(stream_settings, ARTICLES, marker.article_id.encode(), marker.to_json())
    wait_row(postgres_dsn, marker.article_id, 0)
    final = row(postgres_dsn, aid)
    assert final is not None and final[0] == 1 and "third suspect" in final[1]
    assert stored[2] <= after[2] == final[2]  # the replay and the late one changed nothing


def test_duplicates_stored_and_malformed_dead_lettered(
    sink: subprocess.Popen[bytes], stream_settings: Settings, postgres_dsn: str
) -> None:
    art = make_article("Some text")
    event = DuplicateEvent(article_id="7c" * 16, duplicate_of="8d" * 16, reason="same_content",
                           similarity=1.0, url="https://x.example/1", source_id="s",
                           fetched_at=art.fetched_at)
    produce(stream_settings, DUPLICATES, event.article_id.encode(), event.to_json())
    partition, offset = produce(stream_settings, ARTICLES, b"k", b"not json at all")
    letter = wait_for(stream_settings, DLQ, lambda d: d.get("origin") == {
        "topic": ARTICLES, "partition": partition, "offset": offset})
    assert (letter["stage"], letter["reason"]) == ("sink", "malformed")
    deadline, got = time.monotonic() + 30, None
    while got is None and time.monotonic() < deadline:
        with psycopg.connect(postgres_dsn) as conn:
            got = conn.execute("SELECT duplicate_of FROM duplicates WHERE article_id = %s",
                               (event.article_id,)).fetchone()
        time.sleep(0.2)
    assert got == ("8d" * 16,)
    assert sink.poll() is None
