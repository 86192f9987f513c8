"""Measure the near-duplicate detector on labelled same-story pairs (bench and data tests).

``stories/tgcontest-pairs.jsonl`` labels pairs OK (same story) or BAD (different stories). An OK
pair is either a reprint of one text or two write-ups of one event; the file does not say
which, so pairs are sorted by the exact share of the shorter-direction text's 3-shingles found
in the other (``exact_containment``):

- ``reprint``  >= 0.7: most sentences copied, with edits, cuts or a different lead;
- ``rewrite``  0.4-0.7: the same press release or report reworded; neither outcome is wrong;
- ``independent`` < 0.4: separate write-ups, sharing at most a quote: must stay apart.

The cut-offs were set by reading every OK pair above 0.3 and a dozen below (README.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from streams.dedup.fingerprint import shingle_hashes
from streams.dedup.pipeline import DedupPipeline, text_article

PAIRS = "stories/tgcontest-pairs.jsonl"
CATEGORIES = ("reprint", "rewrite", "independent", "bad")


def data_root(default: Path) -> Path:
    return Path(os.environ.get("NEWSSTREAM_SHARED_DATA", default))


@dataclass(frozen=True)
class Pair:
    index: int
    category: str
    first: str
    second: str
    containment: float


def exact_containment(new: str, old: str) -> float:
    """Share of ``new``'s distinct word 3-shingles that occur in ``old``."""
    a, b = set(shingle_hashes(new).tolist()), set(shingle_hashes(old).tolist())
    return len(a & b) / len(a) if a else 0.0


def _category(label: str, containment: float) -> str:
    if label != "OK":
        return "bad"
    if containment >= 0.7:
        return "reprint"
    return "rewrite" if containment >= 0.4 else "independent"


def load_pairs(root: Path) -> list[Pair]:
    pairs = []
    with (root / PAIRS).open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            a, b = row["first_text"], row["second_text"]
            c = max(exact_containment(a, b), exact_containment(b, a))
            pairs.append(Pair(i, _category(row["label"], c), a, b, c))
    return pairs


def merged(first: str, second: str, window_s: float = 86400.0) -> bool:
    """Do fresh dedup steps call ``second`` a duplicate when it follows ``first``?"""
    run = DedupPipeline(window_s)
    run(text_article(first, f"{0:032x}", 0.0))
    return run(text_article(second, f"{1:032x}", 1.0)).kind == "duplicate"


@dataclass
class Tally:
    pairs: int = 0
    in_order: int = 0  # merged when streamed in the file's order
    copy_second: int = 0  # merged when the text with more of itself in the other comes second
    either: int = 0
    merged_ids: list[int] = field(default_factory=list)

    def rate(self, n: int) -> float:
        return n / self.pairs if self.pairs else 0.0


def evaluate(pairs: list[Pair]) -> dict[str, Tally]:
    """Pair-level merge counts per category."""
    tallies = {c: Tally() for c in CATEGORIES}
    for p in pairs:
        t = tallies[p.category]
        forward, backward = merged(p.first, p.second), merged(p.second, p.first)
        copy_is_second = exact_containment(p.second, p.first) >= exact_containment(
            p.first, p.second
        )
        t.pairs += 1
        t.in_order += forward
        t.copy_second += forward if copy_is_second else backward
        t.either += forward or backward
        if forward or backward:
            t.merged_ids.append(p.index)
    return tallies


def background_texts(root: Path) -> Iterator[str]:
    """Full articles from the topic sets: a stream of mostly unrelated news."""
    for name in ("topics/tgcontest.jsonl", "topics/ria.jsonl"):
        path = root / name
        if path.exists():
            with path.open(encoding="utf-8") as f:
                yield from (json.loads(line)["text"] for line in f)
