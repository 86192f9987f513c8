"""Backpressure on news.raw without a broker: the backlog arithmetic per partition (lag, the
oldest unprocessed record's age, records retention deleted), the two bounds, what the
replica's watcher exports and decides from one measurement, and finding a record's timestamp
by ListOffsets when the principal may not read the topic."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndTimestamp
from prometheus_client import REGISTRY

from streams.crawl.backpressure import Bounds, PartitionBacklog
from streams.kafka.backlog import stamps_by_time
from streams.processes.holdback import RawBackpressure
from streams.settings import load_settings

HOUR_MS = 3600 * 1000
NOW = 1_800_000_000.0


def backlog(
    committed: int | None, *, start: int = 0, end: int = 100, age_s: float = 0.0
) -> PartitionBacklog:
    return PartitionBacklog(0, start, end, committed, int((NOW - age_s) * 1000))


def test_the_oldest_unprocessed_record_is_at_the_committed_offset() -> None:
    b = backlog(40, age_s=120.0)
    assert (b.first, b.lag, b.deleted, b.unprocessed) == (40, 60, 0, True)
    assert b.age_s(NOW) == pytest.approx(120.0)


def test_a_group_that_never_committed_starts_at_the_log_start() -> None:
    b = backlog(None, start=30, age_s=5.0)
    assert (b.first, b.lag, b.deleted) == (30, 100, 0)  # lag as newsstream_consumer_lag has it


def test_a_caught_up_partition_has_no_age_whatever_its_last_record_says() -> None:
    assert backlog(100, age_s=10 * 3600).age_s(NOW) == 0.0
    assert PartitionBacklog(0, 0, 100, 40, None).age_s(NOW) == 0.0  # not read: no claim


def test_records_deleted_before_the_workers_committed_them_are_counted() -> None:
    b = backlog(10, start=25)
    assert (b.first, b.deleted, b.lag) == (25, 15, 90)
    assert backlog(10, start=100).deleted == 90  # all of it gone, none left to process


def test_the_age_bound_is_a_fraction_of_retention() -> None:
    bounds = Bounds.of(1000, 2 * HOUR_MS, 0.5)
    assert bounds.max_age_s == 3600.0
    assert bounds.exceeded(5, 3599.0) is None
    assert bounds.exceeded(5, 3601.0) == "age"
    assert bounds.exceeded(1001, 0.0) == "lag"


@pytest.mark.parametrize(("retention_ms", "fraction"), [(-1, 0.5), (HOUR_MS, 0.0)])
def test_no_age_bound_for_infinite_retention_or_a_zero_fraction(
    retention_ms: int, fraction: float
) -> None:
    bounds = Bounds.of(0, retention_ms, fraction)
    assert bounds.max_age_s is None
    assert bounds.exceeded(10**9, 10**9) is None  # lag 0 = no count bound either


def test_the_watcher_exports_the_age_and_holds_back_on_age_alone() -> None:
    # news.raw keeps 2 hours here; half of it is 3600 s.
    settings = load_settings(topic_retention_ms=2 * HOUR_MS, crawl_max_raw_lag=1000)
    watch = RawBackpressure(settings)
    assert watch.paused  # until the first measurement
    young = [backlog(90, age_s=60.0), PartitionBacklog(1, 0, 50, 50, None)]
    assert watch.update(young, NOW) is None
    assert not watch.paused
    old = [
        PartitionBacklog(0, 0, 100, 99, int((NOW - 4000.0) * 1000)),  # one record, 4000 s old
        PartitionBacklog(1, 0, 50, 50, None),
    ]
    assert watch.update(old, NOW) == "age"
    assert watch.paused
    sample = REGISTRY.get_sample_value
    assert sample("newsstream_crawl_raw_unprocessed_age_seconds", {"partition": "0"}) == 4000.0
    assert sample("newsstream_crawl_raw_unprocessed_age_seconds", {"partition": "1"}) == 0.0
    assert sample("newsstream_crawl_raw_lag") == 1
    assert sample("newsstream_crawl_backpressure") == 1
    # The workers commit it: crawling resumes.
    assert watch.update([PartitionBacklog(0, 0, 100, 100, None)], NOW) is None
    assert not watch.paused
    assert sample("newsstream_crawl_backpressure") == 0


def test_the_watcher_reports_records_deleted_unprocessed() -> None:
    watch = RawBackpressure(load_settings())
    watch.update([PartitionBacklog(3, 500, 600, 480, int(NOW * 1000))], NOW)
    assert (
        REGISTRY.get_sample_value("newsstream_crawl_raw_deleted_unprocessed", {"partition": "3"})
        == 20
    )
    assert watch.retention_ms == load_settings().topic_retention_ms


class _ListOffsets:
    """offsets_for_times over an in-memory partition: the earliest record at or after T."""

    def __init__(self, stamps: list[int]) -> None:
        self.stamps, self.calls = stamps, 0

    async def offsets_for_times(self, ask: dict[TopicPartition, int]) -> dict[TopicPartition, Any]:
        self.calls += 1
        out: dict[TopicPartition, Any] = {}
        for tp, t in ask.items():
            hits = [o for o, s in enumerate(self.stamps) if s >= t]
            out[tp] = OffsetAndTimestamp(hits[0], self.stamps[hits[0]]) if hits else None
        return out


TP = TopicPartition("news.raw", 0)
BASE_MS = int(time.time() * 1000) - 3_600_000  # an hour ago: the bisection ends at now


@pytest.mark.parametrize("offset", [0, 1, 57, 99])
async def test_timestamps_without_read_access_found_by_time(offset: int) -> None:
    stamps = [BASE_MS + 1000 * i for i in range(100)]
    fake = _ListOffsets(stamps)
    found = await stamps_by_time(fake, {TP: offset})  # type: ignore[arg-type]
    assert found == {TP: stamps[offset]}
    assert fake.calls <= 48


async def test_equal_timestamps_still_give_the_records_own() -> None:
    stamps = [BASE_MS] * 5 + [BASE_MS + 7000] * 5  # offset 3 is never the earliest at any T
    assert await stamps_by_time(_ListOffsets(stamps), {TP: 3}) == {TP: BASE_MS}  # type: ignore[arg-type]


async def test_out_of_order_timestamps_give_the_newest_at_or_before_the_offset() -> None:
    # offset 2 was stamped early by a skewed clock: ListOffsets never answers with it, and the
    # newest timestamp up to it (offset 1's) is what retention sees for their segment anyway.
    stamps = [BASE_MS, BASE_MS + 5000, BASE_MS + 1000, BASE_MS + 6000]
    found = await stamps_by_time(_ListOffsets(stamps), {TP: 2})  # type: ignore[arg-type]
    assert found == {TP: BASE_MS + 5000}
