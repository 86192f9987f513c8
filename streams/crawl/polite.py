"""One fetch with manners: robots.txt, the host's turn, Retry-After, retries for transient trouble.

The order for every attempt: robots.txt allows the URL (RFC 9309, cached per origin) → wait for
the host's turn (:mod:`streams.crawl.hosts`, Crawl-delay included) → :meth:`Fetcher.fetch`
(safety and caps) → count the outcome. Then:

* 429 or 503 pause the whole host for ``Retry-After`` (seconds or an HTTP date; a default when
  absent) and are retried after the pause, unless the pause is longer than the retry budget;
* timeouts, connection errors and other 5xx are retried with exponential backoff and jitter;
* everything else (4xx, blocked, too_large, bad content type, robots) is final at once: asking
  again cannot change the answer, and hammering a refusing server is what politeness forbids.

Redirect hops stay inside one Fetcher call, so they share the first host's turn.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from streams.crawl.fetch import Fetcher, FetchResult, Kind, Outcome
from streams.crawl.hosts import HostScheduler, Politeness, parse_retry_after
from streams.crawl.robots import RobotsCache
from streams.crawl.safety import check_url, parse_networks
from streams.metrics import (
    FETCH_BLOCKED,
    FETCH_BYTES,
    FETCH_RETRIES,
    FETCH_SECONDS,
    FETCH_STATUS,
    FETCHES,
    HOST_PAUSES,
)

log = logging.getLogger(__name__)

_PAUSE_STATUSES = (429, 503)


def count_fetch(result: FetchResult) -> None:
    """Count one fetch attempt (or refusal) under every fetch metric."""
    FETCHES.labels(result.outcome).inc()
    if result.outcome == "robots_denied":
        return  # no request was made: no latency, bytes or status to record
    FETCH_SECONDS.observe(result.elapsed_s)
    FETCH_BYTES.inc(len(result.body))
    if result.status is not None:
        FETCH_STATUS.labels(str(result.status)).inc()
    if result.outcome == "blocked":
        FETCH_BLOCKED.labels(result.reason or "unknown").inc()


def is_transient(result: FetchResult) -> bool:
    """May asking again give a different answer? Timeouts, network errors, 5xx and 429: the
    Fetcher decides where the failure happens (``FetchResult.transient``)."""
    return result.transient


def refused(url: str, outcome: Outcome, reason: str, *, transient: bool = False) -> FetchResult:
    """A fetch decided without a request (robots.txt, or a URL the safety policy refuses)."""
    now = datetime.now(UTC)
    return FetchResult(url, url, (), None, outcome, reason, {}, b"", now, 0.0, transient)


class PoliteFetcher:
    """Fetcher + RobotsCache + HostScheduler + retry policy: what the crawler and `fetch` use."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        politeness: Politeness | None = None,
        robots: RobotsCache | None = None,
        max_in_flight: int = 256,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.fetcher = fetcher
        self.hosts = HostScheduler(politeness)
        self.politeness = self.hosts.politeness
        self.robots = robots if robots is not None else RobotsCache(fetcher, turn=self._robots_turn)
        self._allow = parse_networks(fetcher.policy.allow_cidrs)
        # Taken only once the host's turn has come, so requests waiting out a Crawl-delay or a
        # Retry-After never hold a global slot that another host could use.
        # No more than the connection pool holds: a request waiting for a pooled connection
        # would spend its connect timeout waiting.
        self._gate = asyncio.Semaphore(min(max_in_flight, fetcher.policy.max_connections))
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto
        self._sleep = sleep

    async def fetch(
        self,
        url: str,
        *,
        kind: Kind = "page",
        etag: str | None = None,
        last_modified: str | None = None,
        obey_robots: bool = True,
    ) -> FetchResult:
        """Fetch ``url`` politely; every attempt is counted; never raises for network trouble."""
        # A URL the safety policy refuses is reported as blocked before robots.txt is asked
        # (its robots.txt would be refused too, and "robots_denied" would hide the reason).
        reason = check_url(url, self._allow)
        if reason is not None:
            result = refused(url, "blocked", reason)
            count_fetch(result)
            return result
        attempt = 0
        while True:
            if obey_robots and not await self.robots.allowed(url):
                # An unreachable robots.txt disallows, but the truth to report is that the
                # host could not be reached (offline `make run` says so instead of "denied").
                why = self.robots.unreachable(url)
                result = (
                    # transient: the URL stays unmarked and is tried again once the
                    # error's short robots.txt cache entry has expired
                    refused(url, "error", why, transient=True)
                    if why
                    else refused(url, "robots_denied", "robots_txt")
                )
                count_fetch(result)
                return result
            delay = await self.robots.crawl_delay(url) if obey_robots else None
            async with self.hosts.turn(url, delay), self._gate:
                result = await self.fetcher.fetch(
                    url, kind=kind, etag=etag, last_modified=last_modified
                )
            count_fetch(result)
            paused = self._maybe_pause(url, result)
            if not is_transient(result) or attempt >= self.politeness.max_retries:
                return result
            if paused is not None and paused > self.politeness.max_retry_after_s:
                return result
            attempt += 1
            FETCH_RETRIES.labels(_retry_reason(result)).inc()
            if paused is None:
                await self._sleep(self.backoff_s(attempt))
            log.debug("retry %d of %s after %s (%s)", attempt, url, result.outcome, result.reason)

    @asynccontextmanager
    async def _robots_turn(self, url: str) -> AsyncIterator[None]:
        """robots.txt is a request to the host like any other: it waits for the host's turn
        and takes a global slot."""
        async with self.hosts.turn(url), self._gate:
            yield

    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so retries of many
        pages that failed together spread out instead of returning in lockstep."""
        p = self.politeness
        ceiling = min(p.backoff_max_s, p.backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)

    def _maybe_pause(self, url: str, result: FetchResult) -> float | None:
        if result.outcome != "http_error" or result.status not in _PAUSE_STATUSES:
            return None
        seconds = parse_retry_after(result.headers.get("retry-after"))
        if seconds is None:
            seconds = self.politeness.default_pause_s
        self.hosts.pause(url, seconds)
        HOST_PAUSES.labels(str(result.status)).inc()
        log.info("host of %s paused %.1fs after %s", url, seconds, result.status)
        return seconds


def _retry_reason(result: FetchResult) -> str:
    if result.outcome == "http_error" and result.status is not None:
        return f"status_{result.status}"
    return result.outcome
