"""A dedup evaluation built from real articles: each base article is copied in the ways copies
occur in news streams, all copies and bases go through the stream's two dedup steps
(``pipeline.DedupPipeline``) in stream order, and every decision is checked against where the
text came from.

Copy kinds (each must be a duplicate of its base): ``exact`` (same text, other URL),
``template`` (the text inside another site's chrome: menu line, related headlines, footer),
``promo`` ("subscribe" and "read also" inserts in the middle), ``truncated`` (the first 60 % of
its sentences), ``edited`` (4 % of words swapped, one sentence cut). ``revision`` is the base's
own URL with edited text (must be a revision). Bases must stay ``new``. Real reprints,
independent write-ups and different stories come from the labelled pairs (``quality.py``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from streams.dedup.pipeline import DedupPipeline, text_article
from streams.identity import article_id

COPY_KINDS = ("exact", "template", "promo", "truncated", "edited")
KINDS = (*COPY_KINDS, "revision")
_SENTENCE_END = re.compile(r"(?<=[.!?…»])\s+")
# Bases this short are below the detector's near-duplicate floor; they are matched exactly only.
MIN_BASE_WORDS = 80


@dataclass
class KindScore:
    total: int = 0
    right: int = 0

    @property
    def recall(self) -> float:
        return self.right / self.total if self.total else 0.0


@dataclass
class Report:
    kinds: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in KINDS})
    bases: KindScore = field(default_factory=KindScore)  # right = stayed new
    duplicates: int = 0  # duplicate decisions on copies and bases
    wrong_duplicates: int = 0  # ... pointing at an article of another base

    @property
    def precision(self) -> float:
        return 1 - self.wrong_duplicates / self.duplicates if self.duplicates else 1.0


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.replace("\n", " ")) if s.strip()]


def _headline(text: str) -> str:
    return _sentences(text)[0][:120] if text.strip() else ""


def make_copy(kind: str, text: str, others: Sequence[str], rng: random.Random) -> str:
    """One copy of ``text`` of the given kind; ``others`` supply foreign headlines and words."""
    sentences = _sentences(text)
    pick = [_headline(rng.choice(others)) for _ in range(3)]
    if kind == "exact":
        return text
    if kind == "template":
        menu = "Home | World | Politics | Business | Sport | Culture"
        footer = "© 2025 Example Media Group. All rights reserved. Contact us | Privacy"
        return "\n".join([menu, *sentences, "Related stories", *pick, footer])
    if kind == "promo":
        third = max(1, len(sentences) // 3)
        promo = ["Subscribe to our Telegram channel for the latest news", f"Read also: {pick[0]}"]
        return "\n".join(sentences[:third] + promo + sentences[third:])
    if kind == "truncated":
        return " ".join(sentences[: max(1, round(len(sentences) * 0.6))])
    if kind in ("edited", "revision"):
        return _edited(sentences, others, rng)
    raise ValueError(f"unknown copy kind {kind!r}")


def _edited(sentences: list[str], others: Sequence[str], rng: random.Random) -> str:
    kept = list(sentences)
    if len(kept) > 3:
        del kept[rng.randrange(1, len(kept) - 1)]
    words = " ".join(kept).split(" ")
    foreign = " ".join(rng.choice(others) for _ in range(2)).split()
    for i in rng.sample(range(len(words)), k=max(1, len(words) // 25)):
        words[i] = rng.choice(foreign)
    return " ".join(words)


def _id(name: str) -> str:
    # Article ids are hex: each evaluation text is named, and its id is that of its name.
    return article_id(f"https://copies.invalid/{name}")


def usable_bases(texts: Sequence[str], limit: int) -> list[str]:
    """Long enough texts that are not already copies of each other (the corpus has some)."""
    seen = DedupPipeline(window_s=1e12)
    bases: list[str] = []
    for i, text in enumerate(texts):
        if len(text.split()) < MIN_BASE_WORDS:
            continue
        if seen(text_article(text, _id(f"b{i}"), 0.0)).kind == "new":
            bases.append(text)
        if len(bases) == limit:
            break
    return bases


def evaluate_copies(bases: Sequence[str], seed: int = 7, window_s: float = 7 * 86400) -> Report:
    """Bases first, then every copy of every base in shuffled order, through one run of the
    dedup steps (``pipeline.DedupPipeline``)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test corpus, not a secret
    stream: list[tuple[str, str, str, int]] = [
        (f"base{i}", "base", t, i) for i, t in enumerate(bases)
    ]
    copies = [
        (
            f"base{i}" if kind == "revision" else f"{kind}{i}",
            kind,
            make_copy(kind, t, bases, rng),
            i,
        )
        for i, t in enumerate(bases)
        for kind in KINDS
    ]
    rng.shuffle(copies)
    stream += copies
    run = DedupPipeline(window_s)
    origin: dict[str, int] = {}
    report = Report()
    for t, (name, kind, text, base) in enumerate(stream):
        aid = _id(name)
        d = run(text_article(text, aid, float(t)))
        origin.setdefault(aid, base)
        score = report.bases if kind == "base" else report.kinds[kind]
        score.total += 1
        expected = {"base": "new", "revision": "revision"}.get(kind, "duplicate")
        same_base = d.duplicate_of is not None and origin.get(d.duplicate_of) == base
        score.right += d.kind == expected and (expected != "duplicate" or same_base)
        if d.kind == "duplicate" and d.reason != "same_url":
            report.duplicates += 1
            report.wrong_duplicates += not same_base
    return report
