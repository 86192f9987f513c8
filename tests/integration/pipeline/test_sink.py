"""The sink process end to end: Kafka in, PostgreSQL out, offsets committed after the write.

Replays leave identical rows, a revision updates its row, malformed input is dead-lettered,
and PostgreSQL stopped for 30 s mid-stream loses nothing and writes nothing twice.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.infra.postgres_local import EmbeddedPostgres
from streams.records import ClassifiedArticle, DuplicateEvent
from streams.settings import Settings
from streams.topology import ARTICLES, DLQ, DUPLICATES, Topology
from tests.conftest import make_article
from tests.integration.pipeline.conftest import Spawn, produce, wait_for

pytestmark = pytest.mark.integration
OUTAGE_S = 30


def classified(article_id: str, text: str, revision: int = 0, **kw: object) -> ClassifiedArticle:
    art = make_article(text, article_id=article_id, revision=revision)
    fields = art.model_dump(exclude={"kind"}) | {
        "topics": ["crime"], "scores": {"crime": 0.8}, "classifier_version": "test",
        "published": art.fetched_at - timedelta(minutes=20),
    }  # fmt: skip
    return ClassifiedArticle(**(fields | kw))


def rows(dsn: str, ids: list[str]) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT * FROM articles WHERE article_id = ANY(%s) ORDER BY article_id", (ids,)
        ).fetchall()


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout_s}s")


def count_stored(dsn: str, ids: list[str], revision: int = 0) -> int:
    with psycopg.connect(dsn) as conn:
        try:
            row = conn.execute(
                "SELECT count(*) FROM articles WHERE article_id = ANY(%s) AND revision = %s",
                (ids, revision),
            ).fetchone()
        except psycopg.errors.UndefinedTable:  # the sink has not migrated the database yet
            return 0
    return int(row[0]) if row else 0


def metric(port: int, name: str, labels: dict[str, str]) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except OSError:  # not listening yet (URLError is an OSError)
        return 0


@pytest.fixture(scope="module")
def sink(spawn: Spawn, stream_topology: Topology, postgres_dsn: str) -> subprocess.Popen[bytes]:
    return spawn("sink", extra_env={"NEWSSTREAM_POSTGRES_DSN": postgres_dsn})


def test_replay_through_kafka_leaves_identical_rows(
    sink: subprocess.Popen[bytes], stream_settings: Settings, postgres_dsn: str
) -> None:
    batch = [classified(f"{i:02x}" + "5b" * 15, f"Story {i} about a robbery.") for i in range(20)]
    ids = [a.article_id for a in batch]
    for art in batch:
        produce(stream_settings, ARTICLES, art.article_id.encode(), art.to_json())
    wait_until(lambda: count_stored(postgres_dsn, ids) == 20, "first pass stored")
    before = rows(postgres_dsn, ids)
    for art in batch:  # the same input again, as after a consumer restart
        produce(stream_settings, ARTICLES, art.article_id.encode(), art.to_json())
    marker = classified("6c" * 16, "A later article, so we know the replay was consumed.")
    produce(stream_settings, ARTICLES, marker.article_id.encode(), marker.to_json())
    wait_until(lambda: count_stored(postgres_dsn, [marker.article_id]) == 1, "marker stored")
    assert rows(postgres_dsn, ids) == before


def test_revision_updates_the_row_and_late_old_one_does_not(
    sink: subprocess.Popen[bytes], stream_settings: Settings, postgres_dsn: str
) -> None:
    aid = "5a" * 16
    first = classified(aid, "Police detained two suspects after a robbery in the city centre.")
    produce(stream_settings, ARTICLES, aid.encode(), first.to_json())
    wait_until(lambda: count_stored(postgres_dsn, [aid]) == 1, "revision 0 stored")
    revised = classified(aid, first.text + " Updated: a third suspect was arrested.", 1)
    produce(stream_settings, ARTICLES, aid.encode(), revised.to_json())
    wait_until(lambda: count_stored(postgres_dsn, [aid], revision=1) == 1, "revision 1 stored")
    (after,) = rows(postgres_dsn, [aid])
    produce(stream_settings, ARTICLES, aid.encode(), first.to_json())  # late, older revision
    marker = classified("6b" * 16, "Another article to know the sink has moved on.")
    produce(stream_settings, ARTICLES, marker.article_id.encode(), marker.to_json())
    wait_until(lambda: count_stored(postgres_dsn, [marker.article_id]) == 1, "marker stored")
    assert rows(postgres_dsn, [aid]) == [after]
    with psycopg.connect(postgres_dsn) as conn:
        got = conn.execute(
            "SELECT revision, revision_count, body FROM articles WHERE article_id = %s", (aid,)
        ).fetchone()
    assert got is not None
    assert got[:2] == (1, 2)
    assert "third suspect" in got[2]


def test_duplicates_stored_and_malformed_dead_lettered(
    sink: subprocess.Popen[bytes], stream_settings: Settings, postgres_dsn: str
) -> None:
    art = make_article("Some text")
    event = DuplicateEvent(article_id="7c" * 16, duplicate_of="8d" * 16, reason="same_content",
                           similarity=1.0, url="https://x.example/1", source_id="s",
                           fetched_at=art.fetched_at)  # fmt: skip
    produce(stream_settings, DUPLICATES, event.article_id.encode(), event.to_json())
    partition, offset = produce(stream_settings, ARTICLES, b"k", b"not json at all")
    origin = {"topic": ARTICLES, "partition": partition, "offset": offset}
    letter = wait_for(stream_settings, DLQ, lambda d: d.get("origin") == origin)
    assert (letter["stage"], letter["reason"]) == ("sink", "malformed")

    def stored() -> bool:
        with psycopg.connect(postgres_dsn) as conn:
            return conn.execute(
                "SELECT duplicate_of FROM duplicates WHERE article_id = %s", (event.article_id,)
            ).fetchone() == ("8d" * 16,)

    wait_until(stored, "duplicate stored", 30)
    assert sink.poll() is None
    assert http_status(sink.metrics_port, "/readyz") == 200  # type: ignore[attr-defined]
    assert http_status(sink.metrics_port, "/healthz") == 200  # type: ignore[attr-defined]


def _produce_steadily(settings: Settings, arts: list[ClassifiedArticle], per_s: float) -> None:
    for art in arts:
        produce(settings, ARTICLES, art.article_id.encode(), art.to_json())
        time.sleep(1 / per_s)


def _sink_on_own_database(
    spawn: Spawn, postgres_factory: Callable[[], EmbeddedPostgres], prefix: str
) -> tuple[EmbeddedPostgres, str, subprocess.Popen[bytes], int]:
    """A fresh PostgreSQL and a sink in a group of its own, reading the topic from the start
    into that database: (server, DSN, sink process, its metrics port)."""
    pg = postgres_factory()
    dsn = pg.start()
    group = f"{prefix}-{uuid.uuid4().hex[:6]}"
    env = {"NEWSSTREAM_POSTGRES_DSN": dsn, "NEWSSTREAM_CONSUMER_GROUP": group}
    proc = spawn("sink", extra_env=env)
    return pg, dsn, proc, proc.metrics_port  # type: ignore[attr-defined]


@pytest.mark.chaos
@pytest.mark.slow
def test_postgres_stopped_mid_stream_every_article_stored_exactly_once(
    spawn: Spawn,
    stream_topology: Topology,
    stream_settings: Settings,
    postgres_factory: Callable[[], EmbeddedPostgres],
) -> None:
    pg, dsn, proc, port = _sink_on_own_database(spawn, postgres_factory, "outage")
    source = f"outage-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    arts = [
        classified(uuid.uuid4().hex, f"Outage story {i}.", source_id=source, fetched_at=now)
        for i in range(200)
    ]
    ids = [a.article_id for a in arts]
    _produce_steadily(stream_settings, arts[:20], per_s=50)
    wait_until(lambda: count_stored(dsn, ids[:20]) == 20, "stored before the outage", 90)
    producer = threading.Thread(target=_produce_steadily, args=(stream_settings, arts[20:], 5))
    producer.start()
    time.sleep(3)
    pg.stop()
    outage_started = time.monotonic()
    wait_until(lambda: http_status(port, "/readyz") == 503, "sink reports not ready", 20)
    assert http_status(port, "/healthz") == 200  # waiting for the database is not a crash
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
    pg.start()
    producer.join()
    wait_until(lambda: count_stored(dsn, ids) == 200, "all stored after the outage", 120)
    with psycopg.connect(dsn) as conn:
        counts = conn.execute(
            "SELECT count(*), max(revision_count) FROM articles WHERE source_id = %s", (source,)
        ).fetchone()
    assert counts == (200, 1)
    # Counted once per row actually written: a second write of any article would show here.
    stored = metric(port, "newsstream_end_to_end_latency_seconds_count", {"source": source})
    assert stored == 200
    assert metric(port, "newsstream_sink_writes_total", {"result": "error"}) >= 1
    assert http_status(port, "/readyz") == 200
    assert proc.poll() is None


def test_rows_postgres_refuses_are_dead_lettered_and_the_rest_stored(
    spawn: Spawn,
    stream_topology: Topology,
    stream_settings: Settings,
    postgres_factory: Callable[[], EmbeddedPostgres],
) -> None:
    _pg, dsn, proc, port = _sink_on_own_database(spawn, postgres_factory, "reject")
    wait_until(lambda: http_status(port, "/readyz") == 200, "sink connected and migrated", 60)
    # A rule the database enforces and the records cannot know about (as a DBA might add).
    with psycopg.connect(dsn) as conn:
        conn.execute("ALTER TABLE articles ADD CONSTRAINT no_test_reject CHECK (title <> 'REJECT')")
    bad = classified(uuid.uuid4().hex, "This row breaks a database rule.", title="REJECT")
    good = classified(uuid.uuid4().hex, "This row is fine and must not be held up.")
    for art in (bad, good):
        produce(stream_settings, ARTICLES, art.article_id.encode(), art.to_json())
    letter = wait_for(stream_settings, DLQ, lambda d: d.get("key") == bad.article_id)
    assert (letter["stage"], letter["reason"]) == ("sink", "storage_rejected")
    assert "CheckViolation" in letter["error"]
    wait_until(lambda: count_stored(dsn, [good.article_id]) == 1, "good row stored", 60)
    assert count_stored(dsn, [bad.article_id]) == 0
    assert metric(port, "newsstream_sink_writes_total", {"result": "rejected"}) >= 1
    assert proc.poll() is None
