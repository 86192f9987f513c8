"""news.sources on the session's real broker: write, read back, follow live, skip junk.

The broker is shared by the whole session, so every test uses source ids of its own and
never assumes the topic is empty.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.errors import KafkaError
from prometheus_client import REGISTRY

from streams.crawl.sources import Source
from streams.kafka.admin import check_topics
from streams.kafka.clients import make_producer
from streams.kafka.sources import (
    SourceFeed,
    put_sources,
    read_sources,
    remove_sources,
    scan_sources,
)
from streams.settings import Settings
from streams.topology import SOURCES, Topology, build_topology

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def source(source_id: str, **fields: object) -> Source:
    return Source.model_validate(
        {"id": source_id, "url": f"https://{source_id}.example/rss"} | fields
    )


def junk_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("newsstream_sources_records_read_total", {"outcome": outcome})
    return value or 0.0


@pytest.fixture(scope="module")
def sources_topic(stream_settings: Settings) -> None:
    """news.sources exists (only it: these tests need no other topic)."""
    full = build_topology(stream_settings, [])
    asyncio.run(check_topics(stream_settings, Topology(topics={SOURCES: full[SOURCES]})))


@pytest.fixture
async def feed(stream_settings: Settings, sources_topic: None) -> AsyncIterator[SourceFeed]:
    feed = SourceFeed(stream_settings, poll_timeout_ms=200)
    yield feed
    await feed.stop()


async def produce_raw(settings: Settings, key: bytes | None, value: bytes | None) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(SOURCES, value, key=key)
    finally:
        await producer.stop()


async def next_change(
    changes: AsyncIterator[tuple[str, Source | None]], ours: set[str]
) -> tuple[str, Source | None]:
    """The next change to one of ``ours`` (other tests may change their own sources)."""
    async for source_id, value in changes:
        if source_id in ours:
            return source_id, value
    raise AssertionError("the feed stopped")


async def test_put_read_remove_round_trip(stream_settings: Settings, sources_topic: None) -> None:
    a, b = unique("round-a"), unique("round-b")
    assert await put_sources(stream_settings, [source(a), source(b, kind="sitemap")]) == 2
    found = await read_sources(stream_settings)
    assert found[a] == source(a)
    assert found[b].kind == "sitemap"
    assert await put_sources(stream_settings, [source(b, language="uk")]) == 1  # an update
    assert await remove_sources(stream_settings, [a, a]) == 1  # one tombstone per id
    found = await read_sources(stream_settings)
    assert a not in found
    assert found[b].language == "uk"


async def test_feed_sees_a_live_add_change_and_remove(
    stream_settings: Settings, feed: SourceFeed
) -> None:
    old, new = unique("feed-old"), unique("feed-new")
    await put_sources(stream_settings, [source(old)])
    await feed.start()
    assert feed.snapshot()[old] == source(old)
    assert new not in feed.snapshot()
    changes = feed.changes()
    ours = {old, new}

    await put_sources(stream_settings, [source(new)])
    assert await asyncio.wait_for(next_change(changes, ours), 30) == (new, source(new))
    assert feed.snapshot()[new] == source(new)

    await put_sources(stream_settings, [source(old, language="ru")])
    assert await asyncio.wait_for(next_change(changes, ours), 30) == (
        old,
        source(old, language="ru"),
    )

    await remove_sources(stream_settings, [new])
    assert await asyncio.wait_for(next_change(changes, ours), 30) == (new, None)
    assert new not in feed.snapshot()
    await changes.aclose()


async def test_junk_on_the_topic_is_skipped_and_counted(
    stream_settings: Settings, feed: SourceFeed
) -> None:
    good, bad = unique("junk-good"), unique("junk-bad")
    before = {o: junk_count(o) for o in ("not_json", "not_a_source", "bad_key")}
    await put_sources(stream_settings, [source(good)])
    await produce_raw(stream_settings, bad.encode(), b"\x00 not json")
    await produce_raw(stream_settings, bad.encode(), b'{"id": "%s"}' % bad.encode())
    await produce_raw(stream_settings, b"\xff\xfe", b"{}")
    # A record without a key never gets there: the broker refuses it on a compacted topic.
    with pytest.raises(KafkaError):
        await produce_raw(stream_settings, None, b"{}")

    table = await scan_sources(stream_settings)  # what `sources list` and the crawler read
    assert table.sources[good] == source(good)
    assert bad not in table.sources
    assert table.invalid >= 3  # ours, and any junk earlier tests left
    assert junk_count("not_json") - before["not_json"] >= 1
    assert junk_count("not_a_source") - before["not_a_source"] >= 1
    assert junk_count("bad_key") - before["bad_key"] >= 1

    # A live feed skips junk that arrives after its snapshot and goes on.
    await feed.start()
    changes = feed.changes()
    later = unique("junk-later")
    await produce_raw(stream_settings, later.encode(), b"[]")
    await put_sources(stream_settings, [source(later)])
    assert await asyncio.wait_for(next_change(changes, {later}), 30) == (later, source(later))
    await changes.aclose()
