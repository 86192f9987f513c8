"""Per-host politeness: how many requests a host gets at once, and how far apart they start.

Every request to a host first takes one of the host's slots (``concurrency``, default 2), then
waits until the host's next start time: the previous start plus the host's delay (the larger of
``min_delay_s`` and robots.txt Crawl-delay), and the previous request's end plus the delay (so
a request that left late never arrives closer than the delay to the next), or the end of a
pause ordered by a 429/503 ``Retry-After``. Hosts are independent, so a slow or paused host
never holds up the others. ``hold`` sets a host's earliest next start from outside (a crawler
replica that has just taken the host over from another).

Idle hosts are forgotten once their next start time has passed, which keeps memory flat over
a crawl of many hosts without ever shortening a delay still owed to a host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from streams.settings import Settings


@dataclass(frozen=True)
class Politeness:
    """Manners towards one host and the retry budget; defaults are the production values."""

    concurrency: int = 2
    min_delay_s: float = 1.0
    max_retries: int = 3
    backoff_base_s: float = 2.0
    backoff_max_s: float = 120.0
    # A Retry-After longer than this is still honoured for the host, but the request gives up
    # instead of holding a task for hours; the next poll of its source tries again.
    max_retry_after_s: float = 300.0
    # Used for 429/503 without a usable Retry-After header.
    default_pause_s: float = 30.0

    @classmethod
    def from_settings(cls, s: Settings) -> Politeness:
        return cls(
            concurrency=s.crawl_host_concurrency,
            min_delay_s=s.crawl_host_min_delay_s,
            max_retries=s.crawl_max_retries,
            backoff_base_s=s.crawl_backoff_base_s,
            backoff_max_s=s.crawl_backoff_max_s,
            max_retry_after_s=s.crawl_max_retry_after_s,
            default_pause_s=s.crawl_default_pause_s,
        )


@dataclass
class _Host:
    slots: asyncio.Semaphore
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    paused_until: float = 0.0
    users: int = 0


def host_key(url: str) -> str:
    """Politeness is per authority (host and port), as robots.txt is."""
    return urlsplit(url).netloc.lower()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP date), else None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HostScheduler:
    """Hands out per-host turns; ``async with scheduler.turn(url, delay_s):`` around a fetch."""

    def __init__(
        self,
        politeness: Politeness | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.politeness = politeness if politeness is not None else Politeness()
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}
        # Told of every request start (host key, clock, delay): the crawler's gap and budget
        # metrics. Pauses (Retry-After) likewise, so a crawler can keep them across a restart.
        self.on_start: Callable[[str, float, float], None] | None = None
        self.on_end: Callable[[str], None] | None = None  # the request's block has exited
        self.on_pause: Callable[[str, float], None] | None = None

    def __len__(self) -> int:
        return len(self._hosts)

    @asynccontextmanager
    async def turn(self, url: str, delay_s: float | None = None) -> AsyncIterator[None]:
        """Wait for a slot and for the host's next start time, then hold the slot."""
        key = host_key(url)
        host = self._host(key)
        host.users += 1
        delay = max(self.politeness.min_delay_s, delay_s or 0.0)
        try:
            async with host.slots:
                await self._wait_start(key, host, delay)
                yield
                # Counted from the start only, a request that went out late (a busy event
                # loop, a slow connect) would reach the host less than the delay before the
                # next one; counted from its end as well, the host never sees a shorter gap.
                host.next_start = max(host.next_start, self._clock() + delay)
        finally:
            if self.on_end is not None:
                self.on_end(key)
            host.users -= 1
            self._forget_idle(key, host)

    async def _wait_start(self, key: str, host: _Host, delay_s: float) -> None:
        # The lock queues the host's requests so each one books the next start time in turn.
        async with host.turn:
            while True:
                wait = max(host.next_start, host.paused_until) - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)  # a pause may be extended meanwhile: look again
            now = self._clock()
            host.next_start = now + delay_s
        if self.on_start is not None:
            self.on_start(key, now, delay_s)

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.politeness.concurrency))
        return host

    def pause(self, url: str, seconds: float) -> None:
        """Send no request to ``url``'s host for ``seconds`` (429/503 Retry-After)."""
        host = self._host(host_key(url))
        host.paused_until = max(host.paused_until, self._clock() + seconds)
        if self.on_pause is not None:
            self.on_pause(host_key(url), seconds)

    def hold(self, key: str, until: float) -> None:
        """No request to host ``key`` starts before clock value ``until``: a crawler that has
        just taken a host over from another replica does not know when that one last asked."""
        host = self._host(key)
        host.next_start = max(host.next_start, until)

    def pause_host(self, key: str, until: float) -> None:
        """Restore a pause (clock value) known from before a restart or a handover."""
        host = self._host(key)
        host.paused_until = max(host.paused_until, until)

    def paused_for(self, url: str) -> float:
        host = self._hosts.get(host_key(url))
        return 0.0 if host is None else max(0.0, host.paused_until - self._clock())

    def _forget_idle(self, key: str, host: _Host) -> None:
        if host.users == 0 and max(host.next_start, host.paused_until) <= self._clock():
            self._hosts.pop(key, None)
        if len(self._hosts) > 4096:
            # Hosts whose delay is still running are kept; the rest go (bounded memory).
            now = self._clock()
            for k, h in list(self._hosts.items()):
                if h.users == 0 and max(h.next_start, h.paused_until) <= now:
                    del self._hosts[k]
