"""Deduplicate a file of articles (JSON lines, in stream order) without Kafka.

``dedup_lines`` is what ``newsstream dedup FILE.jsonl`` runs: the stream's two dedup steps
(``pipeline.DedupPipeline``) over in-memory state, one output dict per non-blank line. A line is

- an Article JSON object (a dump of ``news.clean``): run as it is;
- another JSON object with a ``text``, such as ``{url, title, text, language, published}``: its
  id is the given ``article_id`` (or ``id``), else the crawler's id of its canonical URL, so two
  versions of one URL are one article and the later one is a revision, else a hash of its text;
  content hash and fingerprint are computed as the clean stage computes them;
- anything else: plain text.

A line with no ``fetched_at`` counts as fetched its line number of seconds after the epoch: in
file order, so a repeated line is a re-fetch and every line is inside the window of the lines
before it (unless the file has more lines than the window has seconds).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from pydantic import ValidationError

from streams.dedup.pipeline import DedupPipeline, text_article
from streams.errors import MalformedRecord
from streams.identity import CanonicalURLError, article_id, canonicalize
from streams.records import Article

_ID = re.compile(r"[0-9a-f]{8,64}")  # what an Article id may be (``records.Id``)
# Object fields carried into the Article; dedup reads none but the text, they are for the record.
_METADATA = ("url", "title", "language", "published", "source_id", "fetched_at")


def _canonical(url: str) -> str:
    try:
        return canonicalize(url)
    except CanonicalURLError:
        # Not an http(s) URL: as written, it still names one article across its versions.
        return url.strip()


def _ids(raw: dict[str, Any], text: str) -> tuple[str, str]:
    """The Article id to run with, and the id to print for it."""
    given = raw.get("article_id") or raw.get("id")
    if given:
        shown = str(given)
        # Ids on the topics are hex; any other given id is hashed and printed as given.
        return (shown if _ID.fullmatch(shown) else article_id(shown)), shown
    url = raw.get("url")
    if isinstance(url, str) and url.strip():
        aid = article_id(_canonical(url))  # exactly the crawler's id for that URL
    else:
        aid = hashlib.sha256(text.encode()).hexdigest()[:32]
    return aid, aid


def _from_object(raw: dict[str, Any], number: int) -> tuple[Article, str]:
    text: str = raw["text"]
    aid, shown = _ids(raw, text)
    metadata = {k: raw[k] for k in _METADATA if raw.get(k) is not None}
    if isinstance(metadata.get("url"), str):
        metadata["canonical_url"] = _canonical(metadata["url"])
    try:
        return text_article(text, aid, metadata.pop("fetched_at", number), **metadata), shown
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedRecord(f"line {number + 1}: {where}: {first['msg']}") from exc


def _article(line: bytes, number: int) -> tuple[Article, str]:
    """The Article the stream would carry for this line, and the id to print for it."""
    try:
        article = Article.from_json(line)
    except MalformedRecord:
        pass
    else:
        return article, article.article_id
    try:
        raw: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("text"), str):
        return _from_object(raw, number)
    text = line.decode("utf-8", errors="replace")
    aid = hashlib.sha256(text.encode()).hexdigest()[:32]
    return text_article(text, aid, float(number)), aid


def dedup_lines(lines: Iterable[bytes], window_s: float) -> Iterator[dict[str, Any]]:
    """One decision per non-blank line, in order, as the stream would decide it."""
    pipeline = DedupPipeline(window_s)
    shown: dict[str, str] = {}
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        article, name = _article(line, number)
        shown[article.article_id] = name
        d = pipeline(article)
        yield {
            "article_id": name,
            "decision": d.kind,
            "duplicate_of": shown.get(d.duplicate_of, d.duplicate_of) if d.duplicate_of else None,
            "reason": d.reason,
            "revision": d.revision,
            "similarity": d.similarity,
        }
