"""StoryAssigner: each unique article, in arrival order, joins a story of the window or starts one.

1. **Translation**: an earlier article of the same outlet in another language that the URL
   evidence links (``translation.py``), or whose content is the same (near-identical
   embedding and the same figures, within a day), is this article's original:
   ``translation_of`` names it and the article joins its story. Nothing else is scored.
2. **Candidates**: the articles of the window that share a name key or a figure with this
   one (``candidate_keys``), each key bounded to its newest articles (``state.Limits``).
3. **Score** each candidate (``scoring.Evidence``); a story's score is its best member's.
4. **Link** to the best-scoring story when its score is >= 0. Ties: the higher score, then the
   story that began first, then the smaller story id. Otherwise a new story, whose id is this
   article's id.

The same articles in the same order always give the same stories; a redelivered article
(same id) gets its first answer again and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from streams.stories.features import text_signals
from streams.stories.languages import calibrated
from streams.stories.scoring import DAY_S, Evidence, Vector, Weights, cosine, overlap
from streams.stories.state import Limits, Member, StoryState
from streams.stories.translation import linked_by_url, outlet, translation_keys

# Content-only translation: the same outlet, another language, within a day, a calibrated
# cosine this high (``languages.py``: 90 % of FLORES uk-ru translations score >= 0.968 after
# calibration, the mean maps to 1.0) and the same figures: two reports of one event by one
# outlet in two languages rarely keep every figure.
TRANSLATION_COS = 0.95
TRANSLATION_DAYS = 1.0


@dataclass(frozen=True)
class StoryArticle:
    """What the assigner reads of an article. ``vector``: the L2-normalised embedding of title
    and lead (``streams.classify.model.embed``); ``time``: published, else fetched (epoch s)."""

    article_id: str
    url: str
    title: str
    text: str
    language: str | None
    time: float
    vector: Vector
    desks: frozenset[str] = frozenset()
    alternates: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # the outlet when there is no URL (``source_id``)


@dataclass(frozen=True)
class Assignment:
    article_id: str
    story_id: str
    new_story: bool
    translation_of: str | None = None
    matched: str | None = None  # the member whose score linked it
    score: float | None = None
    candidates: int = 0


def candidate_keys(names: frozenset[str], numbers: frozenset[str]) -> tuple[str, ...]:
    """The shardable keys an article is filed under and looked up by: ``n:`` name keys and
    ``d:`` figures. In the stream each key is a partition key (docs/stories.md)."""
    return tuple(sorted({f"n:{k}" for k in names} | {f"d:{n}" for n in numbers}))


class StoryAssigner:
    """``scan_all`` scores every article of the window instead of the key candidates: the
    bench's reference for what the keys miss (not shardable, not for the stream)."""

    def __init__(
        self, weights: Weights | None = None, limits: Limits | None = None, *,
        scan_all: bool = False,
    ) -> None:  # fmt: skip
        self.weights = weights or Weights()
        self.state = StoryState(limits or Limits())
        self.scan_all = scan_all
        self._answers: dict[str, Assignment] = {}

    def assign(self, article: StoryArticle) -> Assignment:
        known = self._answers.get(article.article_id)
        if known is not None and article.article_id in self.state.members:
            return known  # a redelivery (or a revision): the first answer, nothing changes
        member, answer = self.decide(article)
        self.commit(member, answer)
        return answer

    def decide(self, article: StoryArticle) -> tuple[Member, Assignment]:
        """The answer for ``article`` from the state as it is, without filing the article (the
        stream decides before the key partitions have filed it: ``commit`` comes later)."""
        member = self.member(article)
        return member, self._translation(member) or self._link(member)

    def commit(self, member: Member, answer: Assignment) -> None:
        """File a decided article under its story and keys."""
        self.state.add(replace(member, story_id=answer.story_id,
                               translation_of=answer.translation_of))  # fmt: skip
        self._answers[member.article_id] = answer
        if len(self._answers) > 2 * len(self.state.members) + 1024:
            self._answers = {k: v for k, v in self._answers.items() if k in self.state.members}

    def member(self, a: StoryArticle) -> Member:
        """The state entry of an article (its story still its own)."""
        signals = text_signals(a.title, a.text)
        return Member(
            article_id=a.article_id,
            story_id=a.article_id,
            outlet=outlet(a.url) or a.source,
            language=a.language,
            url=a.url,
            time=a.time,
            vector=np.asarray(a.vector, dtype=np.float16),
            names=signals.names,
            numbers=signals.numbers,
            desks=a.desks,
            keys=candidate_keys(signals.names, signals.numbers),
            translation_keys=translation_keys(a.url, a.alternates),
            translation_of=None,
        )

    def evidence(self, m: Member, other: Member) -> Evidence:
        return Evidence(
            cos=calibrated(cosine(m.vector, other.vector), m.language, other.language),
            names=overlap(m.names, other.names),
            numbers=len(m.numbers & other.numbers),
            days=abs(m.time - other.time) / DAY_S,
            same_outlet=bool(m.outlet) and m.outlet == other.outlet,
            desks_disjoint=bool(m.desks and other.desks and not m.desks & other.desks),
        )

    def _translation(self, m: Member) -> Assignment | None:
        if not m.outlet:
            return None
        found: list[tuple[float, str, Member]] = []
        for c in self.state.candidates(m.translation_keys + m.keys):
            if c.outlet != m.outlet or c.language == m.language or c.article_id == m.article_id:
                continue
            if abs(m.time - c.time) > self.state.limits.window_s:
                continue
            by_url = linked_by_url(m.translation_keys, m.url, c.translation_keys, c.url)
            if by_url or self._same_content(m, c):
                found.append((c.time, c.article_id, c))
        if not found:
            return None
        _, _, original = min(found, key=lambda f: (f[0], f[1]))  # the earliest version
        root = original.translation_of or original.article_id
        return Assignment(m.article_id, original.story_id, False, translation_of=root,
                          matched=original.article_id)  # fmt: skip

    def _same_content(self, m: Member, c: Member) -> bool:
        return (
            abs(m.time - c.time) <= TRANSLATION_DAYS * DAY_S
            and m.numbers == c.numbers
            and calibrated(cosine(m.vector, c.vector), m.language, c.language) >= TRANSLATION_COS
        )

    def _link(self, m: Member) -> Assignment:
        window = self.state.limits.window_s
        best: tuple[float, float, str, str] | None = None  # (-score, story start, story, member)
        candidates = self.state.candidates(None if self.scan_all else m.keys)
        for c in candidates:
            if c.article_id == m.article_id or abs(m.time - c.time) > window:
                continue
            score = self.evidence(m, c).score(self.weights)
            if score < 0:
                continue
            story = self.state.stories.get(c.story_id)
            start = story.first_time if story is not None else c.time
            rank = (-score, start, c.story_id, c.article_id)
            if best is None or rank < best:
                best = rank
        if best is None:
            return Assignment(m.article_id, m.article_id, True, candidates=len(candidates))
        return Assignment(m.article_id, best[2], False, matched=best[3], score=round(-best[0], 3),
                          candidates=len(candidates))  # fmt: skip
