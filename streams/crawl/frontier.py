"""Which listed items a poll fetches, and in what order (pure: no I/O, unit-tested directly).

Items are canonicalised (so ``/a?utm_source=x`` and ``/a`` are one URL), filtered by age and
host, and ordered newest first: when a poll is cut short (limit, shutdown) the fresh news is
what got through. Items without a date keep their listing order after the dated ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from streams.crawl.discover import DiscoveredItem
from streams.identity import CanonicalURLError, canonicalize


@dataclass(frozen=True)
class Candidate:
    canonical: str
    item: DiscoveredItem


@dataclass(frozen=True)
class Selection:
    candidates: list[Candidate]
    too_old: int = 0
    duplicate: int = 0
    bad_url: int = 0
    other_host: int = 0
    over_limit: int = 0


def _newest_first(items: Iterable[DiscoveredItem]) -> list[DiscoveredItem]:
    listed = list(items)
    # sorted() is stable, so undated items keep the order the feed gave them.
    return sorted(
        listed,
        key=lambda i: -i.published.timestamp() if i.published is not None else float("inf"),
    )


def _host_allowed(url: str, allowed_hosts: Sequence[str]) -> bool:
    if not allowed_hosts:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in allowed_hosts)


def select_items(
    items: Iterable[DiscoveredItem],
    *,
    now: datetime | None = None,
    max_age_s: float | None = None,
    allowed_hosts: Sequence[str] = (),
    limit: int | None = None,
) -> Selection:
    """Candidates to fetch, newest first, one per canonical URL, with counts of the rest."""
    now = now or datetime.now(UTC)
    counts = {"too_old": 0, "duplicate": 0, "bad_url": 0, "other_host": 0, "over_limit": 0}
    chosen: dict[str, Candidate] = {}
    for item in _newest_first(items):
        age_s = (now - item.published).total_seconds() if item.published is not None else 0.0
        if max_age_s is not None and age_s > max_age_s:
            counts["too_old"] += 1
            continue
        try:
            canonical = canonicalize(item.url)
        except CanonicalURLError:
            counts["bad_url"] += 1
            continue
        if not _host_allowed(canonical, allowed_hosts):
            counts["other_host"] += 1
        elif canonical in chosen:
            counts["duplicate"] += 1
        elif limit is not None and len(chosen) >= limit:
            counts["over_limit"] += 1
        else:
            chosen[canonical] = Candidate(canonical, item)
    return Selection(list(chosen.values()), **counts)
