"""What the crawler has fetched, surviving restarts (a JSON file in the state dir).

A URL is fetched when first seen, and revisited with a conditional GET while it is young
(news pages are edited in their first hours), at most every ``revisit_interval_s``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from streams.crawl.discover import DiscoveredItem
    from streams.crawl.fetch import FetchResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Due:
    etag: str | None = None
    last_modified: str | None = None


class SeenStore:
    def __init__(
        self,
        path: Path | None,
        *,
        revisit_window_s: float = 6 * 3600,
        revisit_interval_s: float = 1800,
        forget_after_s: float = 30 * 86400,
    ) -> None:
        self.path = path
        self.revisit_window_s = revisit_window_s
        self.revisit_interval_s = revisit_interval_s
        self.forget_after_s = forget_after_s
        self._urls: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            try:
                self._urls = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                log.warning("seen-set %s is corrupt; starting empty (pages may be refetched)", path)

    def __len__(self) -> int:
        return len(self._urls)

    def known(self, url: str) -> bool:
        return url in self._urls

    def due(self, url: str, now: float) -> Due | None:
        """None when the URL needs no fetch now; else the validators for a conditional GET."""
        entry = self._urls.get(url)
        if entry is None:
            return Due()
        young = now - entry["first"] <= self.revisit_window_s
        if young and now - entry["last"] >= self.revisit_interval_s and entry.get("ok"):
            return Due(entry.get("etag"), entry.get("lm"))
        return None

    def mark(
        self, url: str, source_id: str, item: DiscoveredItem, now: float, result: FetchResult | None
    ) -> None:
        entry = self._urls.get(url) or {"first": now, "src": source_id, "item": _item(item)}
        entry["last"] = now
        if result is not None and result.outcome in ("fetched", "not_modified"):
            entry["ok"] = True
            entry["etag"] = result.headers.get("etag") or entry.get("etag")
            entry["lm"] = result.headers.get("last-modified") or entry.get("lm")
        self._urls[url] = entry

    def entry(self, url: str) -> dict[str, Any] | None:
        """The stored facts about ``url`` (JSON-ready), for a crawler that keeps them in Kafka."""
        return self._urls.get(url)

    def put(self, url: str, entry: dict[str, Any]) -> None:
        """Restore an entry saved from :meth:`entry` (a newer one wins)."""
        old = self._urls.get(url)
        if old is None or old.get("last", 0) <= entry.get("last", 0):
            self._urls[url] = entry

    def drop(self, keep: Callable[[str], bool]) -> int:
        """Forget the URLs ``keep`` refuses (hosts this crawler no longer owns); how many."""
        gone = [u for u in self._urls if not keep(u)]
        for url in gone:
            del self._urls[url]
        return len(gone)

    def expired(self, now: float) -> list[str]:
        """URLs not fetched for ``forget_after_s``: the age bound of the seen-set."""
        return [u for u, e in self._urls.items() if now - e["last"] >= self.forget_after_s]

    def revisit_items(self, source_id: str, now: float) -> list[DiscoveredItem]:
        """Items of a source still young enough to be revisited (used when its feed is 304)."""
        from streams.crawl.discover import DiscoveredItem

        return [
            DiscoveredItem(
                url=u,
                title=e["item"]["title"],
                published=None,
                language=e["item"]["language"],
                source_kind=e["item"]["kind"],
            )
            for u, e in self._urls.items()
            if e["src"] == source_id and now - e["first"] <= self.revisit_window_s
        ]

    def save(self, now: float) -> None:
        self._urls = {u: e for u, e in self._urls.items() if now - e["last"] < self.forget_after_s}
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(self._urls))
        os.replace(tmp, self.path)  # atomic: a crash mid-write keeps the previous set


def _item(item: DiscoveredItem) -> dict[str, Any]:
    return {"title": item.title, "language": item.language, "kind": item.source_kind}
