"""Publisher rubrics as evidence: a per-source rubric -> desk mapping learned from the stream.

A page's own section ("Кримінал", ``/proisshestviya/``, ``article:section`` "World") says a lot
about its desk, but what a rubric means differs per publisher. The book learns it: for each
(source, rubric) it keeps how many articles it has seen and the sum of the model's
probabilities from their *text alone*, so its prior is "what articles of this rubric are
usually about". The text-only probabilities keep the loop open: a rubric never confirms itself.

State shared by workers and kept over restarts, without write races: every worker process is
one *writer* with its own running totals per key (a grow-only counter per writer). Each
update is published to the compacted ``news.rubrics`` topic keyed ``source|rubric|writer``;
every worker reads that topic from the start and sums all writers' totals per (source,
rubric), counting only writers of its own consumer group (another pipeline on the same
topics, a blue/green deployment say, sees the same pages and would count them twice). Two
workers never write the same key, so no update is lost; a restarted worker is a new writer
and the old one's totals stay on the topic (until ``news.rubrics`` retention ages them out).
A writer remembers the articles it counted lately, so a redelivered article is not counted
again by the same process; one redelivered after a crash to a new process may be counted
twice: a bias of one article in a statistic over many, which the contract accepts for
evidence (never for stored articles).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.classify.classifier import RubricPrior
from streams.records import RubricStats

# A rubric speaks only after this many articles of it were seen (by all writers together).
MIN_ARTICLES = 5
# Its weight grows with evidence: n / (n + HALF_WEIGHT_AT) of MAX_WEIGHT.
MAX_WEIGHT = 1.0
HALF_WEIGHT_AT = 20
# Keys are cut here: a rubric name is a short label, not text.
MAX_KEY_PART = 80
# Articles this writer counted lately: a redelivered article (at-least-once) is not counted
# again. ~100 bytes each; a day of a busy worker fits.
RECENT_ARTICLES = 50_000


@dataclass
class Totals:
    n: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, proba: Mapping[str, float]) -> None:
        self.n += 1
        for cls, p in proba.items():
            self.sums[cls] = self.sums.get(cls, 0.0) + float(p)


def book_key(source: str, rubric: str) -> str:
    return f"{source[:MAX_KEY_PART]}|{rubric[:MAX_KEY_PART]}"


class RubricBook:
    """In-memory view of ``news.rubrics``: every writer's totals per (source, rubric)."""

    def __init__(self, group: str, writer: str | None = None) -> None:
        self.group = group
        self.writer = writer or uuid.uuid4().hex[:16]
        self._totals: dict[str, dict[str, Totals]] = {}
        self._by_source: dict[str, set[str]] = {}  # source -> its keys
        self._recent: OrderedDict[str, None] = OrderedDict()
        # the stage observes in a worker thread while the reader task merges on the loop
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._totals)

    def observe(
        self, source: str, rubric: str, text_proba: Mapping[str, float], article: str = ""
    ) -> RubricStats | None:
        """Count one article of this rubric; returns the record to publish (this writer's
        new totals for the key), or None for an article (id + revision) counted lately."""
        with self._lock:
            return self._observe(source, rubric, text_proba, article)

    def _observe(
        self, source: str, rubric: str, text_proba: Mapping[str, float], article: str
    ) -> RubricStats | None:
        if article:
            if article in self._recent:
                self._recent.move_to_end(article)
                return None
            self._recent[article] = None
            if len(self._recent) > RECENT_ARTICLES:
                self._recent.popitem(last=False)
        key = self._key(source, rubric)
        mine = self._totals.setdefault(key, {}).setdefault(self.writer, Totals())
        mine.add(text_proba)
        return RubricStats(
            source_id=source[:MAX_KEY_PART],
            rubric=rubric[:MAX_KEY_PART],
            group=self.group,
            writer=self.writer,
            articles=mine.n,
            proba_sums={c: round(v, 4) for c, v in mine.sums.items()},
        )

    def merge(self, stats: RubricStats) -> bool:
        """Apply a record read back from ``news.rubrics``; False when it belongs to another
        consumer group (a second pipeline on the same topics: its articles are ours again).
        Totals only grow, so the larger count wins: replays and own echoes change nothing."""
        with self._lock:
            return self._merge(stats)

    def _merge(self, stats: RubricStats) -> bool:
        if stats.group != self.group:
            return False
        key = self._key(stats.source_id, stats.rubric)
        have = self._totals.setdefault(key, {}).get(stats.writer)
        if have is None or stats.articles > have.n:
            self._totals[key][stats.writer] = Totals(stats.articles, dict(stats.proba_sums))
        return True

    def _key(self, source: str, rubric: str) -> str:
        key = book_key(source, rubric)
        self._by_source.setdefault(source[:MAX_KEY_PART], set()).add(key)
        return key

    def _merged(self, keys: list[str]) -> tuple[int, dict[str, float]]:
        n, sums = 0, dict[str, float]()
        for key in keys:
            for t in self._totals.get(key, {}).values():
                n += t.n
                for cls, v in t.sums.items():
                    sums[cls] = sums.get(cls, 0.0) + v
        return n, sums

    def prior(self, source: str, rubric: str) -> RubricPrior | None:
        """What this rubric says beyond its source: its articles' mean probabilities next to
        those of all the source's articles (a source with one rubric says nothing by it)."""
        with self._lock:
            return self._prior(source, rubric)

    def _prior(self, source: str, rubric: str) -> RubricPrior | None:
        key = book_key(source, rubric)
        n, sums = self._merged([key])
        if n < MIN_ARTICLES:
            return None
        n_all, sums_all = self._merged(list(self._by_source.get(source[:MAX_KEY_PART], ())))
        return RubricPrior(
            name=rubric,
            weight=MAX_WEIGHT * n / (n + HALF_WEIGHT_AT),
            proba={c: v / n for c, v in sums.items()},
            base={c: v / n_all for c, v in sums_all.items()},
        )
