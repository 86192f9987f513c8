"""Labelled data for training and evaluation, mapped onto the desk taxonomy (README.md).

Every example carries *known* labels only: for each class, 1 (the set says it is that), 0 (the
set says it is not) or absent (the set cannot tell: Wikipedia's "Law and crime" section says
nothing about whether an event is also politics). Each per-class model learns from the
examples whose label for it is known, so sets with different label spaces combine without
inventing negatives. The mapping is a table per set below, written out in README.md.

Held out, never trained on: SIB-200 ``dev``, tgcontest ``exam``, ria ``part9``, Wikipedia
events from ``WIKI_HELD_OUT_FROM`` on (the last months), a fifth of Lenta crime and of the
disaster-response news (by a hash of the text, so the split never moves).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.classify.taxonomy import load_taxonomy
from streams.errors import ConfigError

# The checkout's sibling ../shared/data, as in CI; NEWSSTREAM_SHARED_DATA overrides it.
_SIBLING = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("NEWSSTREAM_SHARED_DATA", _SIBLING))
TOPICS_DIR = SHARED_DATA / "topics"

# Classes no desk covers: learned so a travel piece is not forced into a desk.
EXTRA_CLASSES = ("x-travel", "x-geography", "x-other")
WIKI_HELD_OUT_FROM = "2026-05-01"
_HELD_OUT_FIFTH = 5

# set label -> (classes it asserts, classes it says nothing about); every other class is 0.
Rule = tuple[tuple[str, ...], tuple[str, ...]]
_SOCIETY_KIN = (
    "politics",
    "diplomacy",
    "war",
    "crime",
    "emergencies",
    "humanitarian",
    "infrastructure",
    "health",
)
# The Current events portal's sections, mapped to desks (the data README's table).
WIKI_DESKS = (
    "war",
    "emergencies",
    "crime",
    "politics",
    "diplomacy",
    "economy",
    "sport",
    "health",
    "culture",
    "technology",
)
_WIKI_SILENT = ("society", "humanitarian", "infrastructure", "x-travel", "x-geography", "x-other")
LABEL_MAP: dict[str, dict[str, Rule]] = {
    # The portal's sections are exclusive: an event sits under one heading, so the ten desks
    # it has are told apart (war events are negatives for diplomacy). It has no section for
    # society, humanitarian or infrastructure: those stay unknown.
    "wikipedia": {desk: ((desk,), _WIKI_SILENT) for desk in WIKI_DESKS},
    "sib200": {
        "politics": (("politics",), ("diplomacy", "war", "crime", "society", "economy")),
        "science/technology": (("technology",), ("health", "infrastructure")),
        "sports": (("sport",), ()),
        "health": (("health",), ("technology", "society")),
        "entertainment": (("culture",), ()),
        "travel": (("x-travel",), ("culture", "infrastructure", "x-geography")),
        "geography": (("x-geography",), ("emergencies", "x-travel")),
    },
    "tgcontest": {
        "society": (("society",), _SOCIETY_KIN),
        "economy": (("economy",), ("infrastructure", "politics", "diplomacy", "technology")),
        "sports": (("sport",), ()),
        "entertainment": (("culture",), ()),
        "technology": (("technology",), ("economy",)),
        "science": (("technology",), ("health",)),
        "not_news": (("x-other",), ()),
        "other": (("x-other",), (*_SOCIETY_KIN, "society", "x-travel", "x-geography")),
    },
    "ria": {
        "society": (("society",), _SOCIETY_KIN),
        "economy": (("economy",), ("infrastructure", "politics", "diplomacy", "technology")),
        "culture": (("culture",), ()),
    },
    # Lenta's "Преступность" rubric: crime (and its parent society); a crime story may also be
    # politics or war (terrorism), and it may be about an accident turned criminal case.
    "lenta-crime": {
        "crime": (
            ("crime", "society"),
            ("politics", "war", "diplomacy", "emergencies", "humanitarian", "economy"),
        ),
    },
}
HELD_OUT = {"sib200": {"dev"}, "tgcontest": {"exam"}, "ria": {"part9"}}

# disaster-response columns (news genre only: the "direct" rows are SMS, not news)
_DR_WEATHER = (
    "weather_related",
    "floods",
    "storm",
    "fire",
    "earthquake",
    "cold",
    "other_weather",
    "search_and_rescue",
)
_DR_AID = (
    "aid_related",
    "refugees",
    "food",
    "water",
    "shelter",
    "clothing",
    "money",
    "medical_help",
    "other_aid",
)
_DR_INFRA = (
    "infrastructure_related",
    "transport",
    "buildings",
    "electricity",
    "other_infrastructure",
)


@dataclass(frozen=True)
class Example:
    title: str
    text: str
    language: str | None
    source: str  # wikipedia / sib200 / tgcontest / ria / lenta-crime / ...
    source_label: str  # the label as the data set wrote it
    held_out: bool
    labels: Mapping[str, int]  # class -> 1 or 0, known labels only
    # Translations of one sentence share a group, so cross-validation keeps them together.
    group: str = ""

    @property
    def positives(self) -> tuple[str, ...]:
        return tuple(c for c, v in self.labels.items() if v == 1)


def all_classes() -> tuple[str, ...]:
    return (*load_taxonomy().topic_names(), *EXTRA_CLASSES)


def known_labels(rule: Rule, classes: tuple[str, ...]) -> dict[str, int]:
    positive, unknown = rule
    return {c: int(c in positive) for c in classes if c not in unknown or c in positive}


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _fifth(text: str) -> bool:
    return int(_digest(text)[:2], 16) % _HELD_OUT_FIFTH == 0


def _rows(path: Path) -> Iterator[dict[str, object]]:
    if not path.is_file():
        raise ConfigError(f"training data {path} not found (set NEWSSTREAM_SHARED_DATA)")
    for line in path.read_bytes().splitlines():
        if line.strip():
            yield orjson.loads(line)


def _split_title(text: str, source: str) -> tuple[str, str]:
    # Articles come as "title\nbody"; SIB-200 items are single sentences without a title.
    if source == "sib200" or "\n" not in text:
        return "", text
    title, body = text.split("\n", 1)
    return title, body


def load_set(name: str, root: Path = TOPICS_DIR) -> list[Example]:
    classes = all_classes()
    if name == "disaster-response":
        return _disaster_response(root / name / "disaster_response_test.csv", classes)
    out = []
    for row in _rows(root / f"{_FILES.get(name, name)}.jsonl"):
        if name == "wikipedia":
            title, body, label = "", str(row["text"]), str(row["desk"])
            held = str(row["date"]) >= WIKI_HELD_OUT_FROM
        elif name == "lenta-crime":
            title, body, label = str(row["title"]), str(row["text"]), "crime"
            held = _fifth(title + body)
        else:
            title, body = _split_title(str(row["text"]), name)
            label, held = str(row["label"]), row.get("split") in HELD_OUT[name]
        out.append(
            Example(
                title=title,
                text=body,
                language=str(row.get("lang") or "") or None,
                source=name,
                source_label=label,
                held_out=held,
                labels=known_labels(LABEL_MAP[name][label], classes),
                group=str(row.get("id") or _digest(title + body[:200])),
            )
        )
    return out


def _disaster_response(path: Path, classes: tuple[str, ...]) -> list[Example]:
    """News snippets after disasters: emergencies, humanitarian and infrastructure, with
    "unrelated" news as negatives for those three. Other desks stay unknown."""
    if not path.is_file():
        raise ConfigError(f"training data {path} not found (set NEWSSTREAM_SHARED_DATA)")
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["genre"] != "news" or row["related"] not in {"0", "1"}:
                continue

            def any_of(cols: tuple[str, ...], row: dict[str, str] = row) -> bool:
                return any(row.get(c) == "1" for c in cols)

            related = row["related"] == "1"
            labels = {
                "humanitarian": int(related and any_of(_DR_AID)),
                "infrastructure": int(related and any_of(_DR_INFRA)),
            }
            if not related or any_of(_DR_WEATHER):
                labels["emergencies"] = int(related)
            labels |= {c: 0 for c in ("sport", "culture", "technology") if c in classes}
            text = row["message"]
            out.append(
                Example(
                    title="",
                    text=text,
                    language="en",
                    source="disaster-response",
                    source_label="related" if related else "unrelated",
                    held_out=_fifth(text),
                    labels=labels,
                    group=row["id"],
                )
            )
    return out


_FILES = {"wikipedia": "wikipedia-current-events"}
SETS = ("wikipedia", "lenta-crime", "disaster-response", "sib200", "tgcontest", "ria")


def load_all(root: Path = TOPICS_DIR) -> list[Example]:
    return [e for name in SETS for e in load_set(name, root)]


def load_corrections(path: Path) -> Iterator[Example]:
    """Editors' corrections (``newsstream corrections pull``) as training examples: the topics
    an editor gave are positives, the topics the classifier had given and the editor removed are
    negatives; other classes stay unknown. Corrections without the article text are skipped."""
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        row = orjson.loads(line)
        if row.get("topics") and row.get("text"):
            given = set(row["topics"])
            labels = dict.fromkeys(given, 1) | {
                t: 0 for t in row.get("previous_topics") or [] if t not in given
            }
            yield Example(
                title=row.get("title", ""),
                text=row["text"],
                language=row.get("language"),
                source="corrections",
                source_label=row["topics"][0],
                held_out=False,
                labels=labels,
                group=str(row.get("article_id", "")),
            )
