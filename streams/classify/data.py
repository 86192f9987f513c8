"""Labelled data for training and evaluation, mapped onto the desk taxonomy (README.md).

Each source label becomes one desk topic, or an ``x-`` class for what no desk covers (travel,
geography, not news): the model learns those too, so it is not forced to call a travel story
"politics". Splits: SIB-200 ``dev``, tgcontest ``exam`` and ria ``part9`` are held out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.errors import ConfigError

# The checkout's sibling ../shared/data, as in CI; NEWSSTREAM_SHARED_DATA overrides it.
_SIBLING = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("NEWSSTREAM_SHARED_DATA", _SIBLING))
TOPICS_DIR = SHARED_DATA / "topics"

LABEL_MAP: dict[str, dict[str, str]] = {
    "sib200": {
        "politics": "politics", "science/technology": "technology", "sports": "sport",
        "health": "health", "entertainment": "culture", "travel": "x-travel",
        "geography": "x-geography",
    },
    "tgcontest": {
        "society": "society", "economy": "economy", "sports": "sport",
        "entertainment": "culture", "technology": "technology", "science": "technology",
        "not_news": "x-other", "other": "x-other",
    },
    "ria": {"economy": "economy", "culture": "culture", "society": "society"},
}
HELD_OUT = {"sib200": {"dev"}, "tgcontest": {"exam"}, "ria": {"part9"}}


@dataclass(frozen=True)
class Example:
    title: str
    text: str
    language: str | None
    label: str          # desk topic or x- class
    source: str         # sib200 / tgcontest / ria / corrections
    source_label: str   # the label as the data set wrote it
    held_out: bool
    # Translations of one sentence share a group, so cross-validation keeps them together.
    group: str = ""


def _split_title(text: str, source: str) -> tuple[str, str]:
    # Articles come as "title\nbody"; SIB-200 items are single sentences without a title.
    if source == "sib200" or "\n" not in text:
        return "", text
    title, body = text.split("\n", 1)
    return title, body


def load_set(name: str, root: Path = TOPICS_DIR) -> list[Example]:
    path = root / f"{name}.jsonl"
    if not path.is_file():
        raise ConfigError(f"training data {path} not found (set NEWSSTREAM_SHARED_DATA)")
    mapping, held = LABEL_MAP[name], HELD_OUT[name]
    out = []
    for line in path.read_bytes().splitlines():
        row = orjson.loads(line)
        title, body = _split_title(row["text"], name)
        out.append(Example(
            title=title, text=body, language=row.get("lang"), label=mapping[row["label"]],
            source=name, source_label=row["label"], held_out=row.get("split") in held,
            group=str(row.get("id", "")),
        ))
    return out


def load_all(root: Path = TOPICS_DIR) -> list[Example]:
    return [e for name in LABEL_MAP for e in load_set(name, root)]


def load_corrections(path: Path) -> Iterator[Example]:
    """Editors' corrections (``newsstream corrections pull``) as training examples: the first
    topic an editor gave is the label; corrections without the article text are skipped."""
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        row = orjson.loads(line)
        if row.get("topics") and row.get("text"):
            yield Example(
                title=row.get("title", ""), text=row["text"], language=row.get("language"),
                label=row["topics"][0], source="corrections", source_label=row["topics"][0],
                held_out=False,
            )
