"""news.sources on the session's real broker: write, read back, follow live, skip junk.

The broker is shared by the whole session, so every test uses source ids of its own and
never assumes the topic is empty.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
import yaml
from aiokafka.errors import KafkaError
from click.testing import CliRunner, Result
from prometheus_client import REGISTRY

from streams.cli import cli
from streams.crawl.sources import Source
from streams.errors import TopologyError
from streams.infra.kafka_local import LocalKafka
from streams.kafka.admin import check_topics
from streams.kafka.clients import make_producer
from streams.kafka.sources import (
    SourceFeed,
    put_sources,
    read_sources,
    remove_sources,
    scan_sources,
)
from streams.settings import Settings, load_settings
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


# --- the `newsstream sources` command -------------------------------------------------------


def run_cli(settings: Settings, *args: str) -> Result:
    env = {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap(),
        "NEWSSTREAM_STATE_DIR": str(settings.state_dir),
        "NEWSSTREAM_PRODUCER_LINGER_MS": "0",
    }
    return CliRunner().invoke(cli, ["sources", *args], env=env)


def write_sources_file(path: Path, sources: list[Source]) -> Path:
    rows = [s.model_dump(mode="json", exclude_defaults=True) for s in sources]
    path.write_text(yaml.safe_dump({"version": 1, "sources": rows}))
    return path


def listed(settings: Settings) -> dict[str, dict[str, object]]:
    result = run_cli(settings, "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in orjson.loads(result.stdout)}


def test_cli_add_list_import_remove(
    stream_settings: Settings, sources_topic: None, tmp_path: Path
) -> None:
    a, b, c = unique("cli-a"), unique("cli-b"), unique("cli-c")
    added = run_cli(
        stream_settings, "add", "--id", a, "--url", f"https://{a}.example/rss",
        "--language", "uk", "--allowed-host", f"{a}.example", "--allowed-host", "cdn.example",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert f"added source {a}" in added.output
    again = run_cli(stream_settings, "add", "--id", a, "--url", "https://elsewhere.example/")
    assert again.exit_code == 1
    assert f"source {a!r} exists (https://{a}.example/rss); add --replace" in again.output

    table = run_cli(stream_settings, "list")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if line.startswith(a))
    assert row.split() == [a, "feed", "uk", f"https://{a}.example/rss", f"{a}.example,cdn.example"]
    assert listed(stream_settings)[a]["allowed_hosts"] == [f"{a}.example", "cdn.example"]

    # import: a changed, b and c new; an unchanged second import writes nothing
    wanted = [source(a, language="ru"), source(b, kind="sitemap"), source(c)]
    path = write_sources_file(tmp_path / "sources.yaml", wanted)
    dry = run_cli(stream_settings, "import", str(path), "--dry-run")
    assert "would write 3 sources (2 new, 1 changed), 0 unchanged" in dry.output, dry.output
    assert listed(stream_settings)[a]["language"] == "uk"  # a dry run writes nothing
    imported = run_cli(stream_settings, "import", str(path))
    assert imported.exit_code == 0, imported.output
    assert f"~ {a} " in imported.stdout
    assert f"+ {b} " in imported.stdout
    assert "wrote 3 sources (2 new, 1 changed), 0 unchanged, 0 removed" in imported.output
    now = listed(stream_settings)
    assert [Source.model_validate(now[i]) for i in (a, b, c)] == wanted
    again = run_cli(stream_settings, "import", str(path))
    assert "wrote 0 sources (0 new, 0 changed), 3 unchanged, 0 removed" in again.output

    missing = unique("cli-missing")
    refused = run_cli(stream_settings, "remove", b, missing)
    assert refused.exit_code == 1
    assert f"no source with id {missing!r} on news.sources; nothing removed" in refused.output
    assert b in listed(stream_settings)
    removed = run_cli(stream_settings, "remove", b, c)
    assert removed.exit_code == 0, removed.output
    assert f"removed 2 sources: {b}, {c}" in removed.output
    now = listed(stream_settings)
    assert a in now
    assert b not in now
    assert c not in now


def test_cli_import_prune_on_a_broker_of_its_own(
    kafka_factory: Callable[[], LocalKafka], tmp_path: Path
) -> None:
    # --prune removes every source not in the file: on the shared broker it would remove
    # other tests' sources, so this one gets its own (and knows exactly what is on it).
    kafka = kafka_factory()
    kafka.up()
    settings = load_settings(
        kafka_bootstrap=kafka.bootstrap, state_dir=tmp_path / "state", producer_linger_ms=0
    )
    nothing = run_cli(settings, "list")
    assert "topic news.sources does not exist" in str(nothing.exception)
    with pytest.raises(TopologyError, match="run `newsstream topics create`"):
        asyncio.run(put_sources(settings, [source("early")]))
    full = build_topology(settings, [])
    asyncio.run(check_topics(settings, Topology(topics={SOURCES: full[SOURCES]})))
    empty = run_cli(settings, "list")
    assert empty.exit_code == 0, empty.output
    assert empty.stdout == ""
    assert "0 sources" in empty.output

    # --if-new seeds a topic that never held a record, and only such a topic.
    seed = write_sources_file(tmp_path / "seed.yaml", [source("drop")])
    seeded = run_cli(settings, "import", str(seed), "--if-new")
    assert "wrote 1 sources (1 new, 0 changed)" in seeded.output, seeded.output
    assert asyncio.run(remove_sources(settings, ["drop"])) == 1
    again = run_cli(settings, "import", str(seed), "--if-new")
    assert again.exit_code == 0, again.output
    assert "held sources before: nothing imported (--if-new)" in again.output
    assert listed(settings) == {}  # removed stays removed

    keep, drop = source("keep"), source("drop")
    asyncio.run(put_sources(settings, [keep, drop]))
    path = write_sources_file(tmp_path / "sources.yaml", [keep, source("new")])
    pruned = run_cli(settings, "import", str(path), "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "- drop" in pruned.stdout
    assert "wrote 1 sources (1 new, 0 changed), 1 unchanged, 1 removed" in pruned.output
    assert sorted(listed(settings)) == ["keep", "new"]
