"""Adaptive re-poll intervals, dead-source back-off and item selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from streams.crawl.discover import DiscoveredItem
from streams.crawl.frontier import select_items
from streams.crawl.schedule import ScheduleConfig, SourceSchedule

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_interval_shrinks_on_news_and_grows_without() -> None:
    sched = SourceSchedule(ScheduleConfig(initial_interval_s=100, min_interval_s=30,
                                          max_interval_s=400))  # fmt: skip
    assert sched.succeeded("s", new_items=3, now=0) == 50
    assert sched.succeeded("s", new_items=1, now=0) == 30  # floor
    assert sched.succeeded("s", new_items=1, now=0) == 30
    waits = [sched.succeeded("s", new_items=0, now=0) for _ in range(8)]
    assert waits == sorted(waits)
    assert waits[-1] == 400  # cap
    assert sched.state("s").next_due == 400


def test_per_source_bounds() -> None:
    sched = SourceSchedule(ScheduleConfig(initial_interval_s=100))
    sched.set_bounds("fast", 10, 20)
    assert sched.state("fast").interval_s == 20
    assert sched.succeeded("fast", 5, 0) == 10


def test_due_and_next_wakeup() -> None:
    sched = SourceSchedule(ScheduleConfig(initial_interval_s=60, min_interval_s=60))
    assert sched.due(["a", "b"], now=0) == ["a", "b"]
    sched.succeeded("a", 0, now=0)
    assert sched.due(["a", "b"], now=1) == ["b"]
    sched.succeeded("b", 1, now=0)
    assert sched.next_wakeup(["a", "b"], now=10) == 50


def test_dead_source_backed_off_reported_and_revived() -> None:
    cfg = ScheduleConfig(initial_interval_s=60, dead_after=3, dead_interval_s=3600)
    sched = SourceSchedule(cfg)
    before = REGISTRY.get_sample_value("newsstream_source_failures_total", {"source": "gone"}) or 0
    waits = [sched.failed("gone", "timeout", now=0) for _ in range(4)]
    assert waits[0] == 120
    assert waits[1] == 240
    assert waits[2:] == [3600, 3600]
    assert sched.state("gone").dead
    after = REGISTRY.get_sample_value("newsstream_source_failures_total", {"source": "gone"})
    assert after == before + 4
    assert REGISTRY.get_sample_value("newsstream_source_dead", {"source": "gone"}) == 1
    sched.succeeded("gone", 0, now=0)
    assert not sched.state("gone").dead
    assert REGISTRY.get_sample_value("newsstream_source_dead", {"source": "gone"}) == 0


def _item(url: str, age_h: float | None) -> DiscoveredItem:
    published = NOW - timedelta(hours=age_h) if age_h is not None else None
    return DiscoveredItem(url, None, published, None, "rss")


def test_select_items_newest_first_canonical_once_and_young_only() -> None:
    items = [
        _item("https://n.test/old", 100),
        _item("https://n.test/b?utm_source=tg", 2),
        _item("https://n.test/undated", None),
        _item("https://N.test/a#top", 1),
        _item("https://n.test/b", 3),
        _item("ftp://n.test/x", 1),
        _item("https://other.test/c", 1),
    ]
    sel = select_items(items, now=NOW, max_age_s=48 * 3600, allowed_hosts=("n.test",))
    assert [c.canonical for c in sel.candidates] == [
        "https://n.test/a",
        "https://n.test/b",
        "https://n.test/undated",
    ]
    assert (sel.too_old, sel.duplicate, sel.bad_url, sel.other_host) == (1, 1, 1, 1)


def test_select_items_limit_keeps_the_newest() -> None:
    items = [_item(f"https://n.test/{i}", i) for i in range(10)]
    sel = select_items(items, now=NOW, limit=3)
    assert [c.canonical for c in sel.candidates] == [f"https://n.test/{i}" for i in range(3)]
    assert sel.over_limit == 7
