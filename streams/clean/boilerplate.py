"""Per-source template lines learned from the stream: a line that recurs verbatim on a large
share of one source's pages is part of that site's template, not of its articles.

Hand-written rules (``textclean``) catch the boilerplate we know of; this catches the rest of a
site's furniture (its own promo line, disclaimer, newsletter box, "Author: Desk" footer) without
per-site configuration.

State is one mapping (a changelog-backed faust table in the worker, a dict in tests and the CLI)
with compact JSON values, always re-assigned, never mutated:

- ``"<ns>|<source>|#"`` -> ``[pages, t]``: pages of that source observed in this namespace
- ``"<ns>|<source>|@<article id>"`` -> ``t``: this page was counted (a re-fetch or an
  at-least-once replay of the same URL must not count twice)
- ``"<ns>|<source>|<line digest>"`` -> ``[n, since, t]``: the line was on ``n`` pages, first
  seen when the source had ``since`` pages

A line is template when it was on at least ``min_pages`` pages and on at least ``min_share`` of
the pages since it first appeared, so a footer added yesterday counts as soon as it recurs, and
a stock phrase that opens one article in twenty ("Нагадаємо.") never does. ``ns`` is the input
partition in the worker: every key is written only while processing its own partition, so its
changelog tombstones land where the key lives (see ``expire``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TemplateLines"]

_SPACES = re.compile(r"\s+")
# A few pages of agreement before anything is removed: two pages of one series share lines.
MIN_PAGES = 5
# A template line is on nearly every page of its site; 0.3 leaves room for page types that lack
# it (galleries, live blogs) while staying far above a recurring phrase inside articles.
MIN_SHARE = 0.3
# A line seen once is forgotten after this long unless it recurs (most lines are article text).
PROBATION_S = 24 * 3600.0
# Longer lines are article paragraphs or quotes far more often than template.
MAX_LINE_CHARS = 400


def _digest(line: str) -> str:
    folded = _SPACES.sub(" ", line.casefold()).strip()
    return hashlib.blake2b(folded.encode(), digest_size=8).hexdigest()


@dataclass
class TemplateLines:
    """Counts of lines per source, and the filter that drops the recurring ones."""

    counts: MutableMapping[str, Any]
    window_s: float = 7 * 24 * 3600.0
    min_pages: int = MIN_PAGES
    min_share: float = MIN_SHARE
    probation_s: float = PROBATION_S
    # Scanning the whole mapping is O(entries): do it once per this much event time.
    expire_every_s: float = 600.0
    _last_expiry: dict[str, float] = field(default_factory=dict, repr=False)

    def learn_and_strip(
        self, source: str, page_id: str, text: str, now: float, ns: str = "0"
    ) -> str:
        """Count this page's lines, then return the text without the source's template lines.
        Nothing is removed when every line would be: that page is all template or a bad guess."""
        lines = text.splitlines()
        self.maybe_expire(now, ns)
        self.observe(source, page_id, lines, now, ns)
        kept = [ln for ln in lines if not self.is_template(source, ln, ns)]
        return "\n".join(kept) if kept else text

    def observe(self, source: str, page_id: str, lines: list[str], now: float, ns: str) -> None:
        prefix = f"{ns}|{source}|"
        seen_key = f"{prefix}@{page_id}"
        if self.counts.get(seen_key) is not None:
            return
        self.counts[seen_key] = int(now)
        pages_before = self._pages(prefix)
        self.counts[f"{prefix}#"] = [pages_before + 1, int(now)]
        for digest in {_digest(ln) for ln in lines if 0 < len(ln) <= MAX_LINE_CHARS}:
            entry = self.counts.get(prefix + digest)
            n, since = (entry[0], entry[1]) if entry is not None else (0, pages_before)
            self.counts[prefix + digest] = [n + 1, since, int(now)]

    def is_template(self, source: str, line: str, ns: str = "0") -> bool:
        if not line or len(line) > MAX_LINE_CHARS:
            return False
        prefix = f"{ns}|{source}|"
        entry = self.counts.get(prefix + _digest(line))
        if entry is None or entry[0] < self.min_pages:
            return False
        pages_since = max(self._pages(prefix) - entry[1], 1)
        return bool(entry[0] / pages_since >= self.min_share)

    def _pages(self, prefix: str) -> int:
        entry = self.counts.get(prefix + "#")
        return int(entry[0]) if entry is not None else 0

    def maybe_expire(self, now: float, ns: str = "0") -> int:
        last = self._last_expiry.get(ns)
        if last is not None and now - last < self.expire_every_s:
            return 0
        self._last_expiry[ns] = now
        return self.expire(now, ns)

    def expire(self, now: float, ns: str = "0") -> int:
        """Forget lines not seen within the window (once-seen lines after the probation) and
        old page markers, in namespace ``ns`` only; returns how many keys were deleted. In the
        worker call it while processing an event of partition ``ns``: faust writes the
        deletion to the changelog partition of the current event."""
        head = f"{ns}|"
        stale = [
            k
            for k, v in list(self.counts.items())
            if k.startswith(head) and _stale(k, v, now, self)
        ]
        for key in stale:
            del self.counts[key]
        return len(stale)


def _stale(key: str, value: Any, now: float, rules: TemplateLines) -> bool:
    tail = key.rsplit("|", 1)[1]
    if tail == "#":
        return bool(now - value[1] > rules.window_s)
    if tail.startswith("@"):
        return bool(now - value > rules.window_s)
    n, _since, seen = value
    return bool(now - seen > (rules.probation_s if n <= 1 else rules.window_s))
