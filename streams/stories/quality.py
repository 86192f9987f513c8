"""Story-grouping quality on the shared data: same-story pairs and Wikipedia storylines.

- **Pairs** (``stories/tgcontest-pairs.jsonl``): each pair through a fresh assigner, first
  then second, at the same time; linked when the second joins the first's story. ``OK`` pairs
  (wire reprints and independent write-ups of one event) should be linked, ``BAD`` kept apart.
- **Storylines** (``topics/wikipedia-current-events.jsonl``): every event summary through one
  assigner in date order; truth is the editors' storyline path (an event without one is its
  own story). Pairwise and BCubed precision/recall over pairs of events at most ``days``
  apart: a storyline runs for months, a story for days.
- **Unlabelled streams** (``topics/ria.jsonl``: one outlet, timed; ``topics/tgcontest.jsonl``:
  ru and en of the same days): the links the assigner makes, listed for reading
  (``stream_links``).

Held-out halves: pairs by a hash of the first URL (half ``A`` tunes, ``B`` is only reported);
events by date (``A`` before 2026-02-01, ``B`` from then).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.classify.encoder import Matrix
from streams.stories.assigner import Assignment, StoryArticle, StoryAssigner
from streams.stories.scoring import DAY_S, Vector, Weights
from streams.stories.state import Limits, Member

EVENTS_SPLIT = "2026-02-01"


def data_root(default: Path) -> Path:
    return Path(os.environ.get("NEWSSTREAM_SHARED_DATA", default))


def _half(key: str) -> str:
    return "AB"[int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2]


@dataclass(frozen=True)
class StoryPair:
    index: int
    same: bool
    half: str
    language: str
    first: tuple[str, str, str]  # url, title, text
    second: tuple[str, str, str]


@dataclass(frozen=True)
class Event:
    index: int
    text: str
    story: str  # "" when the editors gave none
    desk: str
    day: str
    half: str

    @property
    def time(self) -> float:
        return datetime.fromisoformat(self.day).replace(tzinfo=UTC).timestamp()


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open("rb") as f:
        yield from (orjson.loads(line) for line in f if line.strip())


def load_pairs(root: Path) -> list[StoryPair]:
    return [
        StoryPair(
            index=i,
            same=r["label"] == "OK",
            half=_half(r["first_url"]),
            language=r["lang"],
            first=(r["first_url"], r["first_title"], r["first_text"]),
            second=(r["second_url"], r["second_title"], r["second_text"]),
        )
        for i, r in enumerate(_rows(root / "stories" / "tgcontest-pairs.jsonl"))
    ]


def load_events(root: Path, limit: int | None = None) -> list[Event]:
    rows = list(_rows(root / "topics" / "wikipedia-current-events.jsonl"))
    events = [
        Event(i, r["text"], r["story"], r["desk"], r["date"],
              "A" if r["date"] < EVENTS_SPLIT else "B")
        for i, r in enumerate(rows)
    ]  # fmt: skip
    events.sort(key=lambda e: (e.day, e.index))
    return events[:limit] if limit else events


@dataclass(frozen=True)
class StreamArticle:
    """An article of an unlabelled topics set (``ria.jsonl``, ``tgcontest.jsonl``): the first
    line of its text is the headline; ``time`` 0 when the set has no times."""

    article_id: str
    url: str
    title: str
    text: str
    language: str
    time: float


def load_stream(root: Path, name: str) -> list[StreamArticle]:
    """``topics/<name>`` in publication order (file order when it has no ``datetime``)."""
    out = []
    for r in _rows(root / "topics" / name):
        when = r.get("datetime")
        t = datetime.strptime(when, "%H:%M %d.%m.%Y").replace(tzinfo=UTC) if when else None
        title, _, text = r["text"].partition("\n")
        out.append(StreamArticle(r["id"], r["url"], title.strip(), text, r["lang"],
                                 t.timestamp() if t else 0.0))  # fmt: skip
    return sorted(out, key=lambda a: a.time)  # stable: file order among equal times


def stream_links(
    stream: Sequence[StreamArticle], vectors: Matrix, weights: Weights
) -> list[tuple[Assignment, StreamArticle, StreamArticle]]:
    """The links (not translations) one assigner makes over the stream: (answer, the member it
    matched, the article)."""
    assigner = StoryAssigner(weights)
    by_id = {a.article_id: a for a in stream}
    links = []
    for a, v in zip(stream, vectors, strict=True):
        art = StoryArticle(a.article_id, a.url, a.title, a.text, a.language, a.time, v)
        answer = assigner.assign(art)
        if not answer.new_story and answer.translation_of is None and answer.matched:
            links.append((answer, by_id[answer.matched], a))
    return links


@dataclass
class PairScore:
    same: int = 0
    same_linked: int = 0
    different: int = 0
    different_apart: int = 0

    @property
    def linked_rate(self) -> float:
        return self.same_linked / max(1, self.same)

    @property
    def apart_rate(self) -> float:
        return self.different_apart / max(1, self.different)


def pair_scores(
    pairs: Sequence[StoryPair],
    vectors: dict[int, tuple[Vector, Vector]],
    weights: Weights,
    *,
    scan_all: bool = False,
) -> dict[str, PairScore]:
    """Per half (and ``all``): same-story pairs linked, different-story pairs kept apart."""
    out = {"A": PairScore(), "B": PairScore(), "all": PairScore()}
    for p in pairs:
        assigner = StoryAssigner(weights, scan_all=scan_all)
        v1, v2 = vectors[p.index]
        first = StoryArticle(f"{2 * p.index:032x}", p.first[0], p.first[1], p.first[2],
                             p.language, 0.0, v1)  # fmt: skip
        second = StoryArticle(f"{2 * p.index + 1:032x}", p.second[0], p.second[1], p.second[2],
                              p.language, 0.0, v2)  # fmt: skip
        story = assigner.assign(first).story_id
        linked = assigner.assign(second).story_id == story
        for key in (p.half, "all"):
            s = out[key]
            if p.same:
                s.same += 1
                s.same_linked += linked
            else:
                s.different += 1
                s.different_apart += not linked
    return out


def assign_events(
    events: Sequence[Event],
    vectors: Matrix,
    weights: Weights,
    desks: Sequence[frozenset[str]] | None = None,
    limits: Limits | None = None,
    *,
    scan_all: bool = False,
    lag: int = 0,
) -> list[str]:
    """Each event's story id, all events through one assigner in date order. ``lag``: each
    event is decided before the ``lag`` events just before it are filed, as when the key
    partitions of a sharded stage have not yet filed the articles in flight."""
    assigner = StoryAssigner(weights, limits, scan_all=scan_all)
    stories = []
    pending: deque[tuple[Member, Assignment]] = deque()
    for i, e in enumerate(events):
        article = StoryArticle(f"{e.index:032x}", "", "", e.text, "en", e.time + i, vectors[i],
                               desks[i] if desks else frozenset())  # fmt: skip
        member, answer = assigner.decide(article)
        stories.append(answer.story_id)
        pending.append((member, answer))
        if len(pending) > lag:
            assigner.commit(*pending.popleft())
    return stories


@dataclass(frozen=True)
class Clustering:
    pair_precision: float
    pair_recall: float
    bcubed_precision: float
    bcubed_recall: float
    linked_pairs: int
    gold_pairs: int


_YEAR = re.compile(r"\b(?:19|20)\d\d(?:[–-]\d{2,4})?\b")


def storylines(path: str) -> frozenset[str]:
    """The storylines an editors' path names, years dropped: "Chess World Cup 2025" and
    "Chess World Cup" are one; "Middle Eastern crisis > Gaza war" and "Gaza war > 2025 Gaza
    City offensive" share "Gaza war"."""
    return frozenset(" ".join(_YEAR.sub("", part).split()).lower() for part in path.split(" > "))


def same_story(a: Event, b: Event, *, strict: bool) -> bool:
    """Truth: the same path (strict), or paths sharing a storyline (lenient); an event
    without a path is a story of its own."""
    if not a.story or not b.story:
        return a.index == b.index
    if strict:
        return a.story == b.story
    return bool(storylines(a.story) & storylines(b.story))


def clustering(
    events: Sequence[Event], stories: Sequence[str], days: float, *, strict: bool = True
) -> Clustering:
    """Pairwise and BCubed precision/recall over pairs of events at most ``days`` apart."""
    order = sorted(range(len(events)), key=lambda k: events[k].time)
    ordered = [events[k] for k in order]
    times = [events[k].time for k in order]
    stories = [stories[k] for k in order]
    tp = linked = same = 0
    bp: list[float] = []
    br: list[float] = []
    for i in range(len(events)):
        pred_i = gold_i = both_i = 1  # the event itself
        lo = bisect.bisect_left(times, times[i] - days * DAY_S)
        hi = bisect.bisect_right(times, times[i] + days * DAY_S)
        for j in range(lo, hi):
            if i == j:
                continue
            p, g = stories[i] == stories[j], same_story(ordered[i], ordered[j], strict=strict)
            pred_i += p
            gold_i += g
            both_i += p and g
            if j > i:
                linked += p
                same += g
                tp += p and g
        bp.append(both_i / pred_i)
        br.append(both_i / gold_i)
    n = max(1, len(events))
    return Clustering(tp / max(1, linked), tp / max(1, same), sum(bp) / n, sum(br) / n,
                      linked, same)  # fmt: skip
