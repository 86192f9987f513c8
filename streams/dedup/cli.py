"""Deduplicate a file of Articles (JSON lines, in stream order) without Kafka.

``dedup_lines`` is what ``newsstream dedup FILE.jsonl`` runs: the same ``Deduplicator`` as the
stream stage, over in-memory state, one output dict per input line. A line that is not an
Article JSON object is taken as plain text (``{"text": ...}`` objects too), with its id, hash
and fingerprint computed here and its line number as the time, so a folder of texts can be
checked for copies as easily as a dump of ``news.clean``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from streams.dedup.detector import Deduplicator
from streams.dedup.fingerprint import Signature, signature
from streams.errors import MalformedRecord
from streams.records import Article
from streams.stages.clean import content_hash


def _plain(line: bytes, number: int) -> tuple[str, str, Signature, float]:
    try:
        raw: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("text"), str):
        text = raw["text"]
        article_id = str(raw.get("article_id") or raw.get("id") or "")
    else:
        text, article_id = line.decode("utf-8", errors="replace"), ""
    if not article_id:
        article_id = hashlib.sha256(text.encode()).hexdigest()[:32]
    return article_id, content_hash(text), signature(text), float(number)


def _fields(line: bytes, number: int) -> tuple[str, str, Signature, float]:
    try:
        article = Article.from_json(line)
    except MalformedRecord:
        return _plain(line, number)
    sig = Signature.from_hex(article.fingerprint) or signature(article.text)
    return article.article_id, article.content_hash, sig, article.fetched_at.timestamp()


def dedup_lines(lines: Iterable[bytes], window_s: float) -> Iterator[dict[str, Any]]:
    """One decision per non-blank line, in order."""
    dedup = Deduplicator({}, {}, {}, window_s=window_s)
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        article_id, chash, sig, now = _fields(line, number)
        d = dedup.decide(article_id, chash, sig, now)
        yield {
            "article_id": article_id,
            "decision": d.kind,
            "duplicate_of": d.duplicate_of,
            "reason": d.reason,
            "revision": d.revision,
            "similarity": d.similarity,
        }
