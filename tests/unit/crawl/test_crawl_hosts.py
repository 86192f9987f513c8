"""Per-host politeness and retry decisions, on a fake clock."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from streams.crawl.fetch import FetchResult, Outcome
from streams.crawl.hosts import HostScheduler, Politeness, host_key, parse_retry_after
from streams.crawl.polite import PoliteFetcher, is_transient


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def _scheduler(t: FakeTime, **kw: float) -> HostScheduler:
    return HostScheduler(Politeness(**kw), clock=t.clock, sleep=t.sleep)  # type: ignore[arg-type]


def test_host_key_is_authority() -> None:
    assert host_key("http://News.Example:8080/a") == "news.example:8080"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-1", None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now) == 90.0
    past = format_datetime(now - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, now) == 0.0


async def test_requests_to_one_host_are_spaced_by_the_larger_delay() -> None:
    t = FakeTime()
    hosts = _scheduler(t, min_delay_s=1.0)
    starts = []
    for delay in (None, 3.0, None):  # robots Crawl-delay 3 s wins over the 1 s minimum
        async with hosts.turn("http://a.test/x", delay):
            starts.append(t.now)
    assert starts == [0.0, 1.0, 4.0]


async def test_hosts_do_not_wait_for_each_other() -> None:
    t = FakeTime()
    hosts = _scheduler(t, min_delay_s=5.0)
    for url in ("http://a.test/", "http://b.test/", "http://c.test/"):
        async with hosts.turn(url):
            assert t.now == 0.0


async def test_concurrency_per_host_is_bounded() -> None:
    hosts = HostScheduler(Politeness(concurrency=2, min_delay_s=0.0))
    active, peak = 0, 0

    async def one() -> None:
        nonlocal active, peak
        async with hosts.turn("http://a.test/"):
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(one() for _ in range(10)))
    assert peak == 2


async def test_pause_holds_the_host_until_retry_after() -> None:
    t = FakeTime()
    hosts = _scheduler(t, min_delay_s=0.0)
    hosts.pause("http://a.test/p", 30)
    assert hosts.paused_for("http://a.test/other") == 30
    async with hosts.turn("http://a.test/q"):
        assert t.now == 30.0
    async with hosts.turn("http://b.test/q"):
        assert t.now == 30.0  # another host was never paused


async def test_idle_hosts_are_forgotten() -> None:
    t = FakeTime()
    hosts = _scheduler(t, min_delay_s=1.0)
    async with hosts.turn("http://a.test/"):
        pass
    t.now = 5.0
    async with hosts.turn("http://b.test/"):
        pass
    async with hosts.turn("http://a.test/"):
        pass
    assert len(hosts) <= 2


def _result(
    outcome: Outcome, status: int | None = None, reason: str | None = None, *, flag: bool = False
) -> FetchResult:
    now = datetime.now(UTC)
    return FetchResult("u", "u", (), status, outcome, reason, {}, b"", now, 0.0, flag)


# Transience is the Fetcher's typed verdict (set where the failure happens, tested in
# test_crawl_fetch.py); the polite layer and the poller only read it, never the reason text.
@pytest.mark.parametrize(
    ("result", "transient"),
    [
        (_result("timeout", reason="read", flag=True), True),
        (_result("error", reason="ClientConnectorError: refused", flag=True), True),
        (_result("error", reason="ServerDisconnectedError: gone", flag=True), True),
        (_result("error", reason="ClientConnectorError: refused"), False),  # text is not read
        (_result("http_error", 500, "status_500", flag=True), True),
        (_result("http_error", 503, "status_503", flag=True), True),
        (_result("http_error", 429, "status_429", flag=True), True),
        (_result("http_error", 404, "status_404"), False),
        (_result("http_error", 403, "status_403"), False),
        (_result("blocked", reason="loopback"), False),
        (_result("too_large", reason="body"), False),
        (_result("bad_content_type", 200, "image/png"), False),
        (_result("error", reason="too_many_redirects"), False),
        (_result("robots_denied", reason="robots_txt"), False),
        (_result("fetched", 200), False),
    ],
)
def test_only_transient_outcomes_are_retried(result: FetchResult, transient: bool) -> None:
    assert is_transient(result) is transient


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    polite = PoliteFetcher.__new__(PoliteFetcher)
    polite.politeness = Politeness(backoff_base_s=1.0, backoff_max_s=8.0)
    polite._rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        values = [polite.backoff_s(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        assert len(set(values)) > 1  # jittered
