"""What a crawler replica remembers about the hosts it owns, in pieces it can write to Kafka.

Pure: no Kafka here. The replica (:mod:`streams.processes.replica`) writes each piece as a
``CrawlState`` record to the frontier partition of its host and reads them back when it is
assigned that partition. The pieces:

* ``seen``: one URL's :class:`streams.crawl.seen.SeenStore` entry (first/last fetch, ETag,
  Last-Modified), so a new owner revisits with a conditional GET instead of refetching;
* ``source``: one source's schedule, its listing's validators and the items it has put on the
  frontier (:class:`SourceMemory`), so a new owner neither polls early nor re-sends them;
* ``robots``: a robots.txt cache entry with its expiry;
* ``backoff``: a Retry-After pause of a host.

:class:`OffsetTracker` says which frontier offset may be committed: fetches finish out of order
(many hosts share a partition), and an offset is committed only once every record before it is
done, so a killed replica's unfinished URLs are delivered again to the next owner.
"""

from __future__ import annotations

import bisect
import collections
import time
from dataclasses import dataclass, field
from typing import Any

from streams.crawl.discover import DiscoveredItem, SourceKind
from streams.crawl.frontier import Candidate
from streams.crawl.hosts import host_key
from streams.records import CrawlState

__all__ = ["HostStats", "OffsetTracker", "SourceMemory", "state_key", "state_record"]


def state_key(entry: str, host: str, name: str) -> bytes:
    return f"{entry}|{host}|{name}".encode()


def state_record(
    entry: str, name: str, data: dict[str, Any], *, host: str | None = None, ttl_s: float | None
) -> CrawlState:
    now = time.time()
    return CrawlState(
        entry=entry,  # type: ignore[arg-type]
        host=host if host is not None else host_key(name),
        name=name,
        updated_at=now,
        expires_at=None if ttl_s is None else now + ttl_s,
        data=data,
    )


def item_json(item: DiscoveredItem) -> dict[str, Any]:
    return {
        "url": item.url,
        "title": item.title,
        "published": item.published.isoformat() if item.published else None,
        "language": item.language,
        "kind": item.source_kind,
    }


def item_from_json(data: dict[str, Any]) -> DiscoveredItem:
    from streams.crawl.discover import parse_date

    kind: SourceKind = data.get("kind") or "rss"
    return DiscoveredItem(
        data["url"], data.get("title"), parse_date(data.get("published")), data.get("language"),
        kind,
    )  # fmt: skip


@dataclass
class SourceMemory:
    """One source's listing validators and the items it has sent to the frontier.

    An item is sent when first listed, and again (for the owner to revisit it with a
    conditional GET) while it is younger than ``revisit_window_s`` and was last sent at least
    ``revisit_interval_s`` ago. Items no longer listed are forgotten once past the window, so
    the memory is bounded by the listing's size."""

    etag: str | None = None
    last_modified: str | None = None
    listed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_send(
        self, candidates: list[Candidate], now: float, window_s: float, interval_s: float
    ) -> tuple[list[Candidate], int]:
        """The candidates to put on the frontier now, and how many of them are new."""
        out, new = [], 0
        for cand in candidates:
            known = self.listed.get(cand.canonical)
            if known is None:
                self.listed[cand.canonical] = {
                    "first": now,
                    "sent": now,
                    "item": item_json(cand.item),
                }
                out.append(cand)
                new += 1
            elif now - known["first"] <= window_s and now - known["sent"] >= interval_s:
                known["sent"] = now
                out.append(cand)
        return out, new

    def young(self, now: float, window_s: float) -> list[Candidate]:
        """Items still young enough to revisit (what a 304 listing stands for)."""
        return [
            Candidate(url, item_from_json(e["item"]))
            for url, e in self.listed.items()
            if now - e["first"] <= window_s
        ]

    def prune(self, listing: set[str], now: float, window_s: float) -> None:
        self.listed = {
            u: e for u, e in self.listed.items() if u in listing or now - e["first"] <= window_s
        }

    def to_json(self) -> dict[str, Any]:
        return {"etag": self.etag, "lm": self.last_modified, "listed": self.listed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceMemory:
        return cls(data.get("etag"), data.get("lm"), dict(data.get("listed") or {}))


class OffsetTracker:
    """Offsets of one partition handed out and finished; the highest committable offset."""

    def __init__(self) -> None:
        self._open: list[int] = []  # sorted offsets not yet done
        self._next = -1  # one past the highest offset seen

    def add(self, offset: int) -> None:
        bisect.insort(self._open, offset)
        self._next = max(self._next, offset + 1)

    def done(self, offset: int) -> None:
        i = bisect.bisect_left(self._open, offset)
        if i < len(self._open) and self._open[i] == offset:
            del self._open[i]

    def committable(self) -> int | None:
        """The offset to commit (the next to read), or None before any record."""
        if self._next < 0:
            return None
        return self._open[0] if self._open else self._next

    def __len__(self) -> int:
        return len(self._open)


@dataclass
class _HostWindow:
    starts: collections.deque[float] = field(default_factory=collections.deque)
    last: float | None = None
    delay_s: float = 0.0


class HostStats:
    """Request starts per host over the last minute: the gap between two starts, the ratio of
    the observed rate to the allowed one (1 request per delay), and starved hosts."""

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._hosts: dict[str, _HostWindow] = {}

    def started(self, host: str, now: float, delay_s: float) -> float | None:
        """Record a request start; return the gap since the host's previous one."""
        w = self._hosts.setdefault(host, _HostWindow())
        gap = None if w.last is None else now - w.last
        w.last, w.delay_s = now, delay_s
        w.starts.append(now)
        while w.starts and w.starts[0] < now - self.WINDOW_S:
            w.starts.popleft()
        return gap

    def budget_ratio(self, now: float) -> float:
        """Max over hosts of starts in the last minute / starts the delay allows in it."""
        worst = 0.0
        for w in self._hosts.values():
            while w.starts and w.starts[0] < now - self.WINDOW_S:
                w.starts.popleft()
            if w.delay_s > 0 and w.starts:
                allowed = self.WINDOW_S / w.delay_s + 1  # a start at each end of the window
                worst = max(worst, len(w.starts) / allowed)
        return worst

    def starved(self, pending: dict[str, float], now: float, min_delay_s: float) -> int:
        """Hosts with URLs waiting (host -> when the oldest was taken) and no request for more
        than 10 times their delay."""
        count = 0
        for host, since in pending.items():
            w = self._hosts.get(host)
            delay = max(w.delay_s if w else 0.0, min_delay_s, 0.1)
            last = w.last if w is not None and w.last is not None else since
            count += int(now - max(last, since) > 10 * delay)
        return count

    def forget(self, keep: set[str]) -> None:
        self._hosts = {h: w for h, w in self._hosts.items() if h in keep}
