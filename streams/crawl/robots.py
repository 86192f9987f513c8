"""robots.txt per RFC 9309, with a per-origin cache.

Python's ``urllib.robotparser`` is not used: it applies the first matching rule instead of the
longest match (RFC 9309 section 2.2.2), ignores ``*`` and ``$`` wildcards, and does not merge
groups that name the same agent. The parser below is small and follows the RFC.

Fetch outcomes map to rules as RFC 9309 section 2.3.1 says: 2xx parse the file; 4xx (other
than 429) allow everything; 5xx, 429, timeouts, blocked addresses and network errors disallow
everything; so does a file over the Fetcher's body cap (5 MiB by default, above the RFC's
500 KiB minimum). Results are cached per origin for at most 24 hours; "disallow all" caused by an
error is cached briefly so that a site recovers quickly.

Every robots.txt fetch is counted in ``newsstream_fetch_robots_total{outcome}``, apart from the
page fetches of ``newsstream_fetch_total`` so that their outcome ratios (the alerts') stay those
of pages and feeds.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from streams.crawl.fetch import Fetcher, FetchResult
from streams.metrics import ROBOTS_FETCHES

_DAY_S = 24 * 3600.0  # RFC 9309 2.4: do not use a cached robots.txt for more than 24 hours
_ERROR_TTL_S = 600.0
_MAX_ORIGINS = 10_000  # keeps memory flat over a long crawl of many hosts
_SAFE = "/?=&;:@!$'()*+,~-._"


def _normalise(path: str) -> str:
    """One percent-encoding for comparison: decode, then encode everything non-ASCII."""
    return quote(unquote(path), safe=_SAFE)


@dataclass(frozen=True)
class _Rule:
    allow: bool
    pattern: str
    regex: re.Pattern[str]

    @classmethod
    def build(cls, allow: bool, raw: str) -> _Rule:
        pattern = _normalise(raw)
        anchored = pattern.endswith("$")
        body = pattern[:-1] if anchored else pattern
        regex = ".*".join(re.escape(part) for part in body.split("*"))
        return cls(allow, pattern, re.compile(regex + ("$" if anchored else ""), re.DOTALL))


@dataclass(frozen=True)
class RobotsRules:
    """The rules that apply to our user agent on one origin."""

    rules: tuple[_Rule, ...] = ()
    crawl_delay: float | None = None
    sitemaps: tuple[str, ...] = ()
    disallow_all: bool = False

    def allowed(self, path: str) -> bool:
        """May ``path`` (path plus query) be fetched? Longest match wins; Allow wins ties."""
        if self.disallow_all:
            return False
        if path.split("?", 1)[0] == "/robots.txt":
            return True
        target = _normalise(path or "/")
        best: _Rule | None = None
        for rule in self.rules:
            if rule.regex.match(target) and (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow)
            ):
                best = rule
        return best is None or best.allow


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(disallow_all=True)


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)
    delay: float | None = None


def _groups(text: str) -> tuple[list[_Group], list[str]]:
    groups: list[_Group] = []
    sitemaps: list[str] = []
    current: _Group | None = None
    for line in text.splitlines():
        key, sep, value = line.split("#", 1)[0].partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            continue
        if key == "sitemap":
            sitemaps.append(value)  # not part of any group (RFC 9309 2.2.4)
        elif key == "user-agent":
            if current is None or current.rules or current.delay is not None:
                current = _Group()
                groups.append(current)
            current.agents.append(value.lower())
        elif current is not None and key in ("allow", "disallow") and value:
            current.rules.append(_Rule.build(key == "allow", value))
        elif current is not None and key == "crawl-delay":
            current.delay = _parse_delay(value)
    return groups, sitemaps


def _parse_delay(value: str) -> float | None:
    try:
        delay = float(value)
    except ValueError:
        return None
    return delay if 0 <= delay < 86_400 else None


def parse_robots(text: str, agent: str) -> RobotsRules:
    """Rules for product token ``agent`` (e.g. ``newsstream``) from a robots.txt body.

    All groups naming the agent are merged; without one, the ``*`` groups apply.
    """
    groups, sitemaps = _groups(text)
    token = agent.lower()
    chosen = [g for g in groups if token in g.agents] or [g for g in groups if "*" in g.agents]
    delays = [g.delay for g in chosen if g.delay is not None]
    return RobotsRules(
        rules=tuple(rule for g in chosen for rule in g.rules),
        crawl_delay=max(delays) if delays else None,
        sitemaps=tuple(sitemaps),
    )


def rules_from_fetch(result: FetchResult, agent: str) -> tuple[RobotsRules, bool]:
    """Rules implied by a robots.txt fetch, and whether they came from an error."""
    if result.outcome == "fetched":
        return parse_robots(result.body.decode("utf-8", errors="replace"), agent), False
    status = result.status
    # 429 means "slow down", not "there is no robots.txt".
    unavailable = status is not None and 400 <= status < 500 and status != 429
    if result.outcome == "http_error" and unavailable:
        return ALLOW_ALL, False
    return DISALLOW_ALL, True


class _Entry(NamedTuple):
    expires: float  # clock value
    rules: RobotsRules
    # Set when robots.txt could not be reached at all (network error or timeout): the
    # disallow then means "host unreachable", which callers report as such.
    unreachable: str | None


def rules_to_json(rules: RobotsRules) -> dict[str, Any]:
    """A cache entry's rules as JSON (the crawler keeps them in Kafka across restarts)."""
    return {
        "rules": [[r.allow, r.pattern] for r in rules.rules],
        "delay": rules.crawl_delay,
        "sitemaps": list(rules.sitemaps),
        "none": rules.disallow_all,
    }


def rules_from_json(data: dict[str, Any]) -> RobotsRules:
    return RobotsRules(
        rules=tuple(_Rule.build(bool(a), str(p)) for a, p in data.get("rules", [])),
        crawl_delay=data.get("delay"),
        sitemaps=tuple(data.get("sitemaps", ())),
        disallow_all=bool(data.get("none")),
    )


class RobotsCache:
    """Fetches and caches robots.txt per origin; one fetch at a time per origin.

    ``turn`` (the host's politeness turn) wraps each robots.txt request, so it is spaced like
    every other request to the host. ``on_load(origin, entry, ttl_s)`` is told of every fetched
    entry and :meth:`preload` puts one back: the crawler keeps the cache in Kafka."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        agent: str = "newsstream",
        max_age_s: float = _DAY_S,
        error_max_age_s: float = _ERROR_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        turn: Callable[[str], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._turn = turn
        self.on_load: Callable[[str, dict[str, Any], float], None] | None = None
        self._agent = agent
        self._max_age_s = min(max_age_s, _DAY_S)
        self._error_max_age_s = min(error_max_age_s, self._max_age_s)
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules_for(self, url: str) -> RobotsRules:
        origin = _origin(url)
        cached = self._fresh(origin)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._fresh(origin)  # another task may have fetched it meanwhile
            if cached is None:
                cached = await self._load(origin)
        self._locks.pop(origin, None)
        return cached

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        path = parts.path or "/"
        return (await self.rules_for(url)).allowed(f"{path}?{parts.query}" if parts.query else path)

    async def crawl_delay(self, url: str) -> float | None:
        return (await self.rules_for(url)).crawl_delay

    def unreachable(self, url: str) -> str | None:
        """Why the robots.txt of ``url``'s origin could not be fetched, if it could not."""
        entry = self._cache.get(_origin(url))
        return entry.unreachable if entry is not None else None

    def _fresh(self, origin: str) -> RobotsRules | None:
        entry = self._cache.get(origin)
        if entry is None or entry.expires <= self._clock():
            return None
        self._cache.move_to_end(origin)
        return entry.rules

    def preload(self, origin: str, data: dict[str, Any], ttl_s: float) -> None:
        """Put back an entry saved by ``on_load``, valid for ``ttl_s`` more seconds."""
        if ttl_s <= 0:
            return
        entry = _Entry(
            self._clock() + min(ttl_s, self._max_age_s),
            rules_from_json(data),
            data.get("unreachable"),
        )
        self._cache[origin] = entry
        while len(self._cache) > _MAX_ORIGINS:
            self._cache.popitem(last=False)

    def forget(self, keep: Callable[[str], bool]) -> None:
        """Drop the origins ``keep`` refuses (hosts this crawler no longer owns)."""
        for origin in [o for o in self._cache if not keep(o)]:
            del self._cache[origin]

    async def _load(self, origin: str) -> RobotsRules:
        url = f"{origin}/robots.txt"
        if self._turn is not None:
            async with self._turn(url):
                result = await self._fetcher.fetch(url, kind="robots")
        else:
            result = await self._fetcher.fetch(url, kind="robots")
        ROBOTS_FETCHES.labels(result.outcome).inc()
        rules, from_error = rules_from_fetch(result, self._agent)
        unreachable = None
        if result.outcome in ("error", "timeout"):
            unreachable = f"robots.txt unreachable: {result.reason}"
        ttl = self._error_max_age_s if from_error else self._max_age_s
        self._cache[origin] = _Entry(self._clock() + ttl, rules, unreachable)
        if self.on_load is not None:
            self.on_load(origin, rules_to_json(rules) | {"unreachable": unreachable}, ttl)
        self._cache.move_to_end(origin)
        while len(self._cache) > _MAX_ORIGINS:
            self._cache.popitem(last=False)
        return rules


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
