"""The stream's two dedup steps in one process, over dicts: what ``newsstream dedup``, the
quality evaluations (``quality.py``, ``variants.py``) and ``bench/dedup.py`` run.

The worker runs dedup as two stages joined by a topic (README.md, "Several partitions and
workers"): ``DedupUrlStage`` on ``news.clean``, then ``DedupContentStage`` on
``news.dedup.content``. ``DedupPipeline`` calls those very stage objects, built as
``streams/app/faust_app.py::_dedup_stages`` builds them, with the Article JSON bytes the
topics would carry, and reads the outcome back from what they emit. A detector called directly
(``Deduplicator.decide``) skips what only the stages do: redelivery, the URL step remembering
every URL it forwards, revisions bypassing the content match, the derived band index, and
content state per language; an evaluation of that path measured something the stream does not
do (issue 10).

Partitions: every article id goes to one URL-step partition (that step's state is per id, so
how ids spread over partitions changes nothing). Each content key (language) gets its own
content-step partition, which is the stream's promise: all articles of one language meet, and
articles of different languages are never compared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.dedup.detector import Decision, Deduplicator
from streams.dedup.fingerprint import fingerprint
from streams.dedup.stage import DedupContentStage, DedupUrlStage
from streams.dedup.state import HashEntry, UrlEntry
from streams.identity import content_hash
from streams.records import Article, DuplicateEvent, SourceRef
from streams.stage import Emit
from streams.topology import CLEAN, DEDUP_CONTENT, DUPLICATES, UNIQUE


class DedupPipeline:
    """Article in, the stream's decision out: ``new``, ``revision`` (with its number) or
    ``duplicate`` (with ``duplicate_of``, ``reason`` and ``similarity``), in input order."""

    def __init__(self, window_s: float) -> None:
        # The tables of the worker, as plain dicts (readable for state-size figures).
        self.url_by_id: dict[str, UrlEntry] = {}
        self.content_by_id: dict[str, UrlEntry] = {}
        self.content_by_hash: dict[str, HashEntry] = {}
        self.url_step = DedupUrlStage(Deduplicator(self.url_by_id, {}, {}, window_s=window_s))
        # by_band=None: the band index is derived from by_id in memory, as in the worker.
        content = Deduplicator(self.content_by_id, self.content_by_hash, None, window_s=window_s)
        self.content_step = DedupContentStage(content)
        self._content_partitions: dict[bytes, int] = {}
        self._offsets: dict[tuple[str, int], int] = {}

    def __call__(self, article: Article) -> Decision:
        """One Article through both steps, as the ``news.clean`` record clean would emit."""
        key, value = article.article_id.encode(), article.to_json()
        emit = _only(self.url_step(key, value, self._origin(CLEAN, 0)).emits)
        if emit.topic == DEDUP_CONTENT:
            partition = self._content_partitions.setdefault(emit.key, len(self._content_partitions))
            origin = self._origin(DEDUP_CONTENT, partition)
            emit = _only(self.content_step(emit.key, emit.value, origin).emits)
        return _decision(emit)

    def _origin(self, topic: str, partition: int) -> SourceRef:
        # Each record at the next offset of its partition, as a topic would number them.
        offset = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = offset + 1
        return SourceRef(topic=topic, partition=partition, offset=offset)


def _only(emits: list[Emit]) -> Emit:
    if len(emits) != 1:
        raise RuntimeError(f"a dedup step emitted {len(emits)} records, expected one")
    return emits[0]


def _decision(emit: Emit) -> Decision:
    if emit.topic == UNIQUE:
        revision = Article.from_json(emit.value).revision
        return Decision("revision" if revision else "new", revision)
    if emit.topic == DUPLICATES:
        event = DuplicateEvent.from_json(emit.value)
        return Decision("duplicate", 0, event.duplicate_of, event.reason, event.similarity)
    raise RuntimeError(f"a dedup step emitted to {emit.topic}")


def text_article(
    text: str, article_id: str, fetched_at: datetime | float | str, **metadata: Any
) -> Article:
    """The Article the clean stage would emit for ``text``: content hash and fingerprint by the
    same functions. ``fetched_at`` as a number is seconds after the epoch (a string is parsed
    as the record parses it); ``metadata`` are other Article fields (``url``, ``title``,
    ``language``, ``published``, ...)."""
    if isinstance(fetched_at, int | float):
        fetched_at = datetime.fromtimestamp(fetched_at, UTC)
    defaults = {"url": "", "canonical_url": "", "source_id": "cli", "title": ""}
    fields = (
        defaults
        | metadata
        | {
            "article_id": article_id,
            "text": text,
            "fetched_at": fetched_at,
            "content_hash": content_hash(text),
            "fingerprint": fingerprint(text),
        }
    )
    # Validated as a record read from a topic is (a date string is parsed, a bad one refused).
    return Article.model_validate(fields)
