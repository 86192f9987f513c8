"""``newsstream stories``: article JSON lines in, one story line out per input line, in order.

An input line is a JSON object with a ``text`` (a string) and optionally ``title``, ``url``,
``language``, ``published`` (ISO 8601 or epoch seconds; else ``fetched_at``; else the time of
the line before), ``article_id``/``id``, ``alternates`` ({language: URL}, hreflang links),
``topics`` (the classify stage's desks) and ``source_id``. An Article or ClassifiedArticle dump
of a topic is such an object.

A line that is not such an object gets ``{"line": N, "error": "..."}`` in its place: it is
counted and reported (``Totals``), never silently dropped. Blank lines are skipped.

Articles are embedded in batches (the encoder's cost is per call) and then assigned one by
one, in input order, by the same ``StoryAssigner`` the stream stage will run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from streams.classify.encoder import Matrix
from streams.identity import CanonicalURLError, article_id, canonicalize
from streams.stories.assigner import StoryArticle, StoryAssigner

Embed = Callable[[Sequence[str], Sequence[str]], Matrix]
BATCH = 16
_NO_VECTOR = np.zeros(0, dtype=np.float32)


class BadLine(ValueError):
    """A line that is not an article object; the message says what is wrong."""


@dataclass
class Totals:
    lines: int = 0
    bad: int = 0
    new_stories: int = 0
    linked: int = 0
    translations: int = 0


@dataclass(frozen=True)
class Parsed:
    line: int
    shown_id: str
    article: StoryArticle  # its vector still empty: the batch is embedded together


def _time(raw: dict[str, Any], previous: float) -> float:
    for name in ("published", "fetched_at"):
        value = raw.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, str):
            raise BadLine(f"{name}: expected a date, not {type(value).__name__}")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadLine(f"{name}: not an ISO 8601 date: {value[:40]!r}") from exc
        aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return aware.timestamp()
    return previous


def _str(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadLine(f"{name}: expected a string, not {type(value).__name__}")
    return value


def _ids(raw: dict[str, Any], url: str, text: str) -> tuple[str, str]:
    """(the id the assigner uses, the id printed)."""
    given = raw.get("article_id") or raw.get("id")
    if given:
        return str(given), str(given)
    if url.strip():
        try:
            aid = article_id(canonicalize(url))
        except CanonicalURLError:
            aid = article_id(url.strip())
        return aid, aid
    aid = hashlib.sha256(text.encode()).hexdigest()[:32]
    return aid, aid


def parse(line: bytes, number: int, previous: float) -> Parsed:
    try:
        raw: Any = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadLine(f"expected a JSON object, not {type(raw).__name__}")
    text, title, url = _str(raw, "text"), _str(raw, "title"), _str(raw, "url")
    if not (text.strip() or title.strip()):
        raise BadLine("no text and no title")
    alternates = raw.get("alternates") or {}
    topics = raw.get("topics") or []
    if not isinstance(alternates, dict) or not all(isinstance(v, str) for v in alternates.values()):
        raise BadLine("alternates: expected an object of language -> URL")
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise BadLine("topics: expected a list of desk names")
    language = raw.get("language")
    aid, shown = _ids(raw, url, text)
    article = StoryArticle(
        article_id=aid, url=url, title=title, text=text,
        language=language if isinstance(language, str) else None,
        time=_time(raw, previous), vector=_NO_VECTOR, desks=frozenset(topics),
        alternates=dict(alternates), source=_str(raw, "source_id"),
    )  # fmt: skip
    return Parsed(number, shown, article)


def _batches(lines: Iterable[bytes], totals: Totals) -> Iterator[list[Parsed | tuple[int, str]]]:
    batch: list[Parsed | tuple[int, str]] = []
    previous = 0.0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        totals.lines += 1
        try:
            parsed = parse(line, number, previous)
        except BadLine as exc:
            totals.bad += 1
            batch.append((number, str(exc)))
        else:
            previous = parsed.article.time
            batch.append(parsed)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def story_lines(
    lines: Iterable[bytes], assigner: StoryAssigner, embed: Embed, totals: Totals | None = None
) -> Iterator[dict[str, Any]]:
    """One output dict per non-blank input line, in order."""
    totals = totals if totals is not None else Totals()
    shown: dict[str, str] = {}
    for batch in _batches(lines, totals):
        good = [p for p in batch if isinstance(p, Parsed)]
        vectors = embed([p.article.title for p in good], [p.article.text for p in good])
        by_line = {p.line: v for p, v in zip(good, vectors, strict=True)}
        for item in batch:
            if not isinstance(item, Parsed):
                yield {"line": item[0], "error": item[1]}
                continue
            article = replace(item.article, vector=by_line[item.line])
            shown[article.article_id] = item.shown_id
            answer = assigner.assign(article)
            totals.new_stories += answer.new_story
            totals.linked += not answer.new_story and answer.translation_of is None
            totals.translations += answer.translation_of is not None
            yield {
                "line": item.line,
                "article_id": item.shown_id,
                "story_id": shown.get(answer.story_id, answer.story_id),
                "new_story": answer.new_story,
                "translation_of": shown.get(answer.translation_of or "", answer.translation_of),
                "matched": shown.get(answer.matched or "", answer.matched),
                "score": answer.score,
            }
