"""Extraction quality metric of the article-extraction-benchmark (see shared/data/README.md).

Each text becomes a multiset of word 4-grams over ``\\w+`` tokens (case-sensitive). Per page the
multiset intersection and differences give TP/FP/FN, normalised by their sum; precision and recall
are averaged over pages, and F1 is taken from those averages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+")
NGRAM = 4


@dataclass(frozen=True, slots=True)
class PageScore:
    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float | None:
        """None when the page has nothing predicted: such pages are left out of the mean."""
        if self.fp == 0 and self.fn == 0:
            return 1.0
        if self.tp + self.fp == 0:
            return None
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        if self.fp == 0 and self.fn == 0:
            return 1.0
        if self.tp + self.fn == 0:
            return None
        return self.tp / (self.tp + self.fn)


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    f1: float
    pages: int


def shingles(text: str, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    # A text shorter than n still yields one (short) shingle, so tiny texts are not invisible.
    grams = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(g for g in grams if g)


def score_page(truth: str, predicted: str) -> PageScore:
    want, got = shingles(truth), shingles(predicted)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    if total == 0:
        return PageScore(0.0, 0.0, 0.0)
    return PageScore(tp / total, fp / total, fn / total)


def aggregate(pages: Iterable[PageScore]) -> Score:
    scores = list(pages)
    precisions = [p for s in scores if (p := s.precision) is not None]
    recalls = [r for s in scores if (r := s.recall) is not None]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1, len(scores))
