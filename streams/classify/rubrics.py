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
rubric). Two workers never write the same key, so no update is lost; a restarted worker is a
new writer and the old one's totals stay on the topic (until ``news.rubrics`` retention ages
them out). A redelivered article after a crash may be counted twice: a bias of one article in
a statistic over many, which the contract accepts for evidence (never for stored articles).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.classify.classifier import RubricPrior
from streams.records import RubricStats

# A rubric speaks only after this many articles of it were seen (by all writers together).
MIN_ARTICLES = 5
# Its weight in the blend grows with evidence: n / (n + HALF_WEIGHT_AT) of MAX_WEIGHT.
MAX_WEIGHT = 0.5
HALF_WEIGHT_AT = 20
# Keys are cut here: a rubric name is a short label, not text.
MAX_KEY_PART = 80


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

    def __init__(self, writer: str | None = None) -> None:
        self.writer = writer or uuid.uuid4().hex[:16]
        self._totals: dict[str, dict[str, Totals]] = {}

    def __len__(self) -> int:
        return len(self._totals)

    def observe(self, source: str, rubric: str, text_proba: Mapping[str, float]) -> RubricStats:
        """Count one article of this rubric; returns the record to publish (this writer's
        new totals for the key)."""
        key = book_key(source, rubric)
        mine = self._totals.setdefault(key, {}).setdefault(self.writer, Totals())
        mine.add(text_proba)
        return RubricStats(source_id=source[:MAX_KEY_PART], rubric=rubric[:MAX_KEY_PART],
                           writer=self.writer, articles=mine.n,
                           proba_sums={c: round(v, 4) for c, v in mine.sums.items()})

    def merge(self, stats: RubricStats) -> None:
        """Apply a record read back from ``news.rubrics``. Totals only grow, so the larger
        count wins: replays and this writer's own echoes change nothing."""
        key = book_key(stats.source_id, stats.rubric)
        have = self._totals.setdefault(key, {}).get(stats.writer)
        if have is None or stats.articles > have.n:
            self._totals[key][stats.writer] = Totals(stats.articles, dict(stats.proba_sums))

    def prior(self, source: str, rubric: str) -> RubricPrior | None:
        writers = self._totals.get(book_key(source, rubric))
        if not writers:
            return None
        n = sum(t.n for t in writers.values())
        if n < MIN_ARTICLES:
            return None
        sums: dict[str, float] = {}
        for t in writers.values():
            for cls, v in t.sums.items():
                sums[cls] = sums.get(cls, 0.0) + v
        return RubricPrior(name=rubric, weight=MAX_WEIGHT * n / (n + HALF_WEIGHT_AT),
                           proba={c: v / n for c, v in sums.items()})
