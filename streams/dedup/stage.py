"""Stage 2, dedup: Article -> news.unique (new or revision) or news.duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from streams.dedup.detector import Decision, Deduplicator
from streams.dedup.fingerprint import Signature, signature
from streams.records import Article, DuplicateEvent, SourceRef
from streams.stage import Emit, StageResult
from streams.topology import DEDUP_CONTENT, DUPLICATES, UNIQUE


def article_signature(article: Article) -> Signature:
    """The MinHash signature the clean stage computed (``Article.fingerprint``), read from its
    hex: the steps never compute it from the text again, and pass that very string on to the
    next topic and into their state. Only a record without one or with an older format (an
    article cleaned before an upgrade, still in the topic) gets it computed from its text."""
    return Signature.from_hex(article.fingerprint) or signature(article.text)


def _duplicate(article: Article, d: Decision) -> StageResult:
    assert d.duplicate_of is not None
    assert d.reason is not None
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


def _unique(article: Article, kind: str, revision: int) -> StageResult:
    unique = article.model_copy(update={"revision": revision})
    return StageResult(kind, [Emit.record(UNIQUE, article.article_id, unique)])


def content_key(article: Article) -> str:
    """Key of the content step: every copy of a text in one language meets on one partition."""
    return article.language or "und"


@dataclass
class DedupUrlStage:
    """Step 1 of the stream, keyed by article id: re-fetches and revisions of one URL. Both
    steps keep each input partition's state under its own key prefix and expire it while
    handling that partition's events (``Deduplicator.for_partition``)."""

    detector: Deduplicator
    name: str = "dedup_url"

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        article = Article.from_json(value)
        now = article.fetched_at.timestamp()
        sig = article_signature(article)
        aid, chash = article.article_id, article.content_hash
        detector = self.detector.for_partition(origin.partition)
        detector.maybe_expire(now)
        # A redelivered fetch gets its first decision again (its output may never have left).
        d = detector.redelivered(aid, chash, now)
        if d is None:
            d = detector.check_url(aid, chash, now)
            if d.kind == "duplicate":
                return _duplicate(article, d)
            detector.remember_url(aid, chash, sig, d.revision, now)
        forward = article.model_copy(update={"revision": d.revision, "fingerprint": sig.to_hex()})
        return StageResult(d.kind, [Emit.record(DEDUP_CONTENT, content_key(article), forward)])


@dataclass
class DedupContentStage:
    """Step 2, keyed by language: the same or nearly the same text under another URL."""

    detector: Deduplicator
    name: str = "dedup_content"

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        article = Article.from_json(value)
        now = article.fetched_at.timestamp()
        sig = article_signature(article)
        aid, chash = article.article_id, article.content_hash
        detector = self.detector.for_partition(origin.partition)
        detector.maybe_expire(now)
        # A redelivered fetch that was kept stays kept, whatever was kept after it (a longer
        # text containing this one must not turn the original into its copy).
        again = detector.redelivered(aid, chash, now)
        if again is None and article.revision == 0:
            d = detector.match_content(aid, chash, sig, now)
            if d.kind == "duplicate":
                return _duplicate(article, d)
        if again is None:
            detector.remember(aid, chash, sig, article.revision, now)
        return _unique(article, "revision" if article.revision else "new", article.revision)
