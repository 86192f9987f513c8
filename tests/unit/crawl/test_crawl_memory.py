"""The crawler replica's memory pieces: offsets committed only past finished records, what a
source sends to the frontier, per-host rate accounting, and the host -> partition map agreeing
with the producer's partitioner."""

from __future__ import annotations

import asyncio

from aiokafka.partitioner import DefaultPartitioner

from streams.crawl.discover import DiscoveredItem
from streams.crawl.frontier import Candidate
from streams.crawl.hosts import HostScheduler, Politeness
from streams.crawl.memory import HostStats, OffsetTracker, SourceMemory
from streams.crawl.robots import RobotsCache, parse_robots, rules_from_json, rules_to_json
from streams.crawl.schedule import SourceSchedule
from streams.kafka.crawlstate import host_partition


def test_offsets_commit_only_past_the_oldest_unfinished_record() -> None:
    t = OffsetTracker()
    assert t.committable() is None
    for offset in (10, 11, 12, 13):
        t.add(offset)
    t.done(11)
    t.done(13)
    assert t.committable() == 10  # 10 still open: a crash redelivers 10..13
    t.done(10)
    assert t.committable() == 12
    t.done(12)
    assert t.committable() == 14
    assert len(t) == 0


def cand(url: str) -> Candidate:
    return Candidate(url, DiscoveredItem(url, "t", None, "uk", "rss"))


def test_source_sends_new_items_once_and_young_ones_again_after_the_revisit_interval() -> None:
    mem = SourceMemory()
    sent, new = mem.to_send([cand("https://a/1"), cand("https://a/2")], 0.0, 100.0, 10.0)
    assert (len(sent), new) == (2, 2)
    assert mem.to_send([cand("https://a/1")], 5.0, 100.0, 10.0) == ([], 0)
    again, new = mem.to_send([cand("https://a/1")], 11.0, 100.0, 10.0)
    assert ([c.canonical for c in again], new) == (["https://a/1"], 0)
    assert mem.to_send([cand("https://a/1")], 200.0, 100.0, 10.0) == ([], 0)  # too old
    restored = SourceMemory.from_json(mem.to_json())
    assert restored.to_send([cand("https://a/2")], 12.0, 100.0, 10.0)[1] == 0
    assert [c.canonical for c in restored.young(50.0, 100.0)] == ["https://a/1", "https://a/2"]
    restored.prune({"https://a/2"}, 150.0, 100.0)
    assert set(restored.listed) == {"https://a/2"}  # still listed: kept; gone and old: dropped


def test_host_stats_gap_budget_and_starved() -> None:
    stats = HostStats()
    assert stats.started("a:1", 0.0, 1.0) is None
    assert stats.started("a:1", 1.5, 1.0) == 1.5
    for i in range(59):
        stats.started("a:1", 2.0 + i, 1.0)
    assert 0.9 < stats.budget_ratio(60.0) <= 1.0
    stats.started("b:1", 10.0, 0.5)
    stats.started("b:1", 10.01, 0.5)  # one request too early does not exceed the minute budget
    assert stats.budget_ratio(60.0) <= 1.0
    for i in range(200):
        stats.started("c:1", 10.0 + i * 0.1, 1.0)  # ten a second against one allowed
    assert stats.budget_ratio(30.0) > 1.0
    assert stats.starved({"a:1": 0.0, "d:1": 95.0}, 100.0, 1.0) == 1  # a:1 idle 40 s > 10 s


def test_host_partition_is_the_producers_partition_for_the_key() -> None:
    parts = list(range(12))
    for i in range(500):
        host = f"127.0.0.1:{20000 + i}"
        assert host_partition(host, 12) == DefaultPartitioner()(host.encode(), parts, parts)
    spread = {host_partition(f"h{i}.example", 12) for i in range(200)}
    assert spread == set(parts)


def test_schedule_survives_export_and_restore_on_another_clock() -> None:
    a = SourceSchedule()
    a.succeeded("s", 3, now=1000.0)
    data = a.export("s", now=1000.0, wall=5000.0)
    b = SourceSchedule()
    b.restore("s", data, now=10.0, wall=5000.0 + 20.0)
    assert b.state("s").interval_s == a.state("s").interval_s
    assert b.state("s").next_due == 10.0 + (a.state("s").next_due - 1000.0) - 20.0


def test_robots_entry_round_trips_and_preload_skips_the_fetch() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /private/\nCrawl-delay: 2\n", "newsstream")
    back = rules_from_json(rules_to_json(rules))
    assert back.crawl_delay == 2
    assert not back.allowed("/private/x")
    assert back.allowed("/public")

    class NoFetch:
        async def fetch(self, *_a: object, **_k: object) -> None:
            raise AssertionError("a preloaded origin must not be fetched")

    cache = RobotsCache(NoFetch())  # type: ignore[arg-type]
    cache.preload("http://a:1", rules_to_json(rules), 60.0)
    assert asyncio.run(cache.crawl_delay("http://a:1/x")) == 2


async def test_hold_delays_the_first_request_to_a_host_taken_over() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    sched = HostScheduler(Politeness(min_delay_s=1.0), clock=lambda: now[0], sleep=sleep)
    starts: list[float] = []
    sched.on_start = lambda _h, t, _d: starts.append(t)
    sched.hold("a:1", 101.0)
    async with sched.turn("http://a:1/x"):
        pass
    async with sched.turn("http://a:1/y"):
        pass
    assert starts == [101.0, 102.0]
