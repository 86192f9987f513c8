"""The stream's dedup steps in one process, over dicts: what ``newsstream dedup``, the
quality evaluations (``quality.py``, ``variants.py``) and ``bench/dedup.py`` run.

The worker runs dedup as four stages joined by topics (README.md, "Several partitions and
workers"): ``DedupUrlStage`` on ``news.clean``, ``DedupHashStage`` on ``news.dedup.hash``,
``DedupBandStage`` on ``news.dedup.bands`` and ``DedupGatherStage`` on ``news.dedup.gather``.
``DedupPipeline`` calls those very stage objects, built as ``streams/app/faust_app.py`` builds
them, with the record bytes the topics would carry, delivers every emitted record to the
step that reads its topic (first in, first out) until nothing is left, and reads the outcome
back from what lands on ``news.unique`` or ``news.duplicates``. It counts the records each
topic received (``written``), the amplification figure of the bench.

Partitions: each topic has ``partitions`` partitions and a record goes to the one its key
hashes to (CRC-32 here; Kafka's murmur2 spreads as well). State is per partition, as in the
worker, so the decisions do not depend on the count (a test checks it).
"""

from __future__ import annotations

import zlib
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any, TypeVar

from streams.dedup.band_step import DedupBandStage
from streams.dedup.detector import Decision, Deduplicator
from streams.dedup.fingerprint import fingerprint
from streams.dedup.gather import DedupGatherStage
from streams.dedup.stage import DedupHashStage, DedupUrlStage
from streams.dedup.state import BandSlot, HashEntry, UrlEntry
from streams.identity import content_hash
from streams.records import Article, DuplicateEvent, SourceRef
from streams.stage import Emit, Stage, StageResult
from streams.topology import CLEAN, DEDUP_BANDS, DEDUP_GATHER, DEDUP_HASH, DUPLICATES, UNIQUE

V = TypeVar("V")


class Table(dict[str, V]):
    """A dict standing for a faust table, counting the changelog records it would write."""

    writes = 0

    def __setitem__(self, key: str, value: V) -> None:
        self.writes += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes += 1
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.writes += key in self
        return super().pop(key, *default)


class DedupSteps:
    """The four steps as one ``Stage``: a ``news.clean`` record in, what lands on
    ``news.unique`` or ``news.duplicates`` out (outcome ``new``, ``revision`` or
    ``duplicate``). For benchmarks and tests that chain stages by hand."""

    name = "dedup"

    def __init__(self, window_s: float, partitions: int = 1) -> None:
        # The tables of the worker, as plain dicts (readable for state-size figures).
        # Each counts its writes and deletions: the changelog records a worker would send.
        self.url_by_id: Table[UrlEntry] = Table()
        self.hash_by_hash: Table[HashEntry] = Table()
        self.band_earliest: Table[list[BandSlot]] = Table()
        self.gather_articles: Table[Any] = Table()
        self.gather_bands: Table[Any] = Table()
        self.url_step = DedupUrlStage(Deduplicator(self.url_by_id, {}, {}, window_s=window_s))
        self.hash_step = DedupHashStage(Deduplicator({}, self.hash_by_hash, {}, window_s=window_s))
        self.band_step = DedupBandStage(self.band_earliest, window_s=window_s)
        # No timer here: every verdict arrives before the next article, so none is late.
        self.gather_step = DedupGatherStage(
            self.gather_articles, self.gather_bands, window_s=window_s, timeout_s=float("inf"),
            clock=lambda: 0.0,
        )  # fmt: skip
        self.steps: dict[str, Stage] = {
            CLEAN: self.url_step,
            DEDUP_HASH: self.hash_step,
            DEDUP_BANDS: self.band_step,
            DEDUP_GATHER: self.gather_step,
        }
        self.partitions = partitions
        self.written: Counter[str] = Counter()  # records per topic, all inputs so far
        self.written_bytes: Counter[str] = Counter()  # their keys' and values' bytes
        self._offsets: dict[tuple[str, int], int] = {}

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        emit = _only(self.run(Emit(CLEAN, key or b"", value)))
        if emit.topic == DUPLICATES:
            return StageResult("duplicate", [emit])
        return StageResult("revision" if _decision(emit).revision else "new", [emit])

    def run(self, emit: Emit) -> list[Emit]:
        """Deliver ``emit`` and everything it causes, first in, first out; return the records
        written to topics no dedup step reads."""
        queue = deque([emit])
        out: list[Emit] = []
        while queue:
            emit = queue.popleft()
            self.written[emit.topic] += 1
            self.written_bytes[emit.topic] += len(emit.key) + len(emit.value)
            step = self.steps.get(emit.topic)
            if step is None:
                out.append(emit)
                continue
            partition = zlib.crc32(emit.key) % self.partitions
            queue.extend(step(emit.key, emit.value, self._origin(emit.topic, partition)).emits)
        return out

    def _origin(self, topic: str, partition: int) -> SourceRef:
        # Each record at the next offset of its partition, as a topic would number them.
        offset = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = offset + 1
        return SourceRef(topic=topic, partition=partition, offset=offset)


class DedupPipeline:
    """Article in, the stream's decision out: ``new``, ``revision`` (with its number) or
    ``duplicate`` (with ``duplicate_of``, ``reason`` and ``similarity``), in input order."""

    def __init__(self, window_s: float, partitions: int = 1) -> None:
        self.steps = DedupSteps(window_s, partitions)
        self.url_by_id, self.hash_by_hash = self.steps.url_by_id, self.steps.hash_by_hash
        self.band_earliest = self.steps.band_earliest
        self.written, self.written_bytes = self.steps.written, self.steps.written_bytes

    def __call__(self, article: Article) -> Decision:
        """One Article through every step, as the ``news.clean`` record clean would emit."""
        emits = self.steps.run(Emit(CLEAN, article.article_id.encode(), article.to_json()))
        return _decision(_only(emits))


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
