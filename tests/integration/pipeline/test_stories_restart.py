"""The story window survives a SIGKILLed worker: the replacement restores the stories tables
from their changelogs, so a translation arriving after the kill still finds its original,
which the dead worker had filed and committed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from streams.settings import Settings
from streams.topology import ARTICLES, RAW, STORIES_ASSIGN, Topology
from tests.integration.pipeline.conftest import Spawn, produce, wait_for
from tests.integration.pipeline.test_stories_pipeline import raw, recent

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

# A dead member leaves the group after 6 s instead of faust's default (as the chaos test).
FAST_GROUP = {
    "BROKER_SESSION_TIMEOUT": "6",
    "BROKER_HEARTBEAT_INTERVAL": "1",
    "BROKER_REBALANCE_TIMEOUT": "20",
}


def committed_all(settings: Settings, timeout_s: float = 120) -> None:
    """Until the worker group has committed every record of news.stories.assign."""
    tp = TopicPartition(STORIES_ASSIGN, 0)

    async def done() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap())
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap())
        await admin.start()
        await consumer.start()
        try:
            offsets = await admin.list_consumer_group_offsets(settings.consumer_group)
            ends = await consumer.end_offsets([tp])
        finally:
            await consumer.stop()
            await admin.close()
        committed = offsets.get(tp)
        return committed is not None and committed.offset >= ends[tp]

    deadline = time.monotonic() + timeout_s
    while not asyncio.run(done()):
        assert time.monotonic() < deadline, "news.stories.assign was not committed in time"
        time.sleep(1)


def test_translation_after_a_sigkill_finds_its_original(
    spawn: Spawn, stream_topology: Topology, stream_settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    # Another host than the other stories test: new article ids, an outlet of its own.
    uk = raw(recent("border-uk", now, 2), now, base="http://restart.test")
    ru = raw(recent("border-ru", now, 1), now, base="http://restart.test")
    first = spawn("worker", extra_env=FAST_GROUP)
    produce(stream_settings, RAW, uk.article_id.encode(), uk.to_json())
    out = wait_for(
        stream_settings,
        ARTICLES,
        lambda d: d["article_id"] == uk.article_id and d.get("story_id") is not None,
        timeout_s=240,
    )
    assert out["story_id"] == uk.article_id
    # Its offset committed: the replacement will not see it again, only the tables.
    committed_all(stream_settings)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    spawn("worker", extra_env=FAST_GROUP)
    produce(stream_settings, RAW, ru.article_id.encode(), ru.to_json())
    got = wait_for(
        stream_settings,
        ARTICLES,
        lambda d: d["article_id"] == ru.article_id and d.get("story_id") is not None,
        timeout_s=240,
    )
    assert got["translation_of"] == uk.article_id
    assert got["story_id"] == uk.article_id
