"""Stage 2, dedup: Article -> news.unique (new or revision) or news.duplicates."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from streams.dedup.detector import Deduplicator
from streams.dedup.fingerprint import Signature, signature
from streams.records import Article, DuplicateEvent, SourceRef
from streams.stages.base import Emit, StageResult
from streams.topology import DUPLICATES, UNIQUE


def article_signature(article: Article) -> Signature:
    """The article's MinHash signature, recomputed when the field is empty or from an older
    format (articles cleaned before an upgrade are still in the topic)."""
    return Signature.from_hex(article.fingerprint) or signature(article.text)


@dataclass
class DedupStage:
    detector: Deduplicator
    name: str = "dedup"

    @classmethod
    def with_state(
        cls,
        by_id: MutableMapping[str, Any],
        by_hash: MutableMapping[str, Any],
        by_band: MutableMapping[str, Any],
        window_s: float,
    ) -> DedupStage:
        return cls(Deduplicator(by_id, by_hash, by_band, window_s=window_s))

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        article = Article.from_json(value)
        now = article.fetched_at.timestamp()
        d = self.detector.decide(
            article.article_id, article.content_hash, article_signature(article), now
        )
        if d.kind == "duplicate":
            assert d.duplicate_of is not None and d.reason is not None
            event = DuplicateEvent(
                article_id=article.article_id,
                duplicate_of=d.duplicate_of,
                reason=d.reason,
                similarity=d.similarity,
                url=article.url,
                source_id=article.source_id,
                fetched_at=article.fetched_at,
            )
            return StageResult("duplicate", [Emit.record(DUPLICATES, article.article_id, event)])
        unique = article.model_copy(update={"revision": d.revision})
        return StageResult(d.kind, [Emit.record(UNIQUE, article.article_id, unique)])
