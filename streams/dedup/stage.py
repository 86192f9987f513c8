"""Stage 2, dedup, in four steps joined by topics (README.md, "Several partitions and workers"):

1. ``DedupUrlStage`` on ``news.clean`` (keyed by article id): re-fetches and revisions;
2. ``DedupHashStage`` on ``news.dedup.hash`` (keyed by language and content hash): exact copies;
   fans an article that is not one out as one ``BandProbe`` per LSH band;
3. ``band_step.DedupBandStage`` on ``news.dedup.bands`` (keyed by language and band key);
4. ``gather.DedupGatherStage`` on ``news.dedup.gather`` (keyed by article id): the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.dedup.detector import Decision, Deduplicator
from streams.dedup.fingerprint import Signature, signature
from streams.dedup.matching import MIN_SHINGLES
from streams.dedup.state import HashEntry
from streams.errors import MalformedRecord
from streams.records import Article, BandProbe, DuplicateEvent, PendingArticle, SourceRef
from streams.stage import Emit, StageResult
from streams.topology import DEDUP_BANDS, DEDUP_GATHER, DEDUP_HASH, DUPLICATES, UNIQUE


def article_signature(article: Article) -> Signature:
    """The MinHash signature the clean stage computed (``Article.fingerprint``), read from its
    hex: the steps never compute it from the text again, and pass that very string on to the
    next topic and into their state. Only a record without one or with an older format (an
    article cleaned before an upgrade, still in the topic) gets it computed from its text."""
    return Signature.from_hex(article.fingerprint) or signature(article.text)


def duplicate_event(article: Article, d: Decision) -> Emit:
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
    return Emit.record(DUPLICATES, article.article_id, event)


def unique(article: Article) -> Emit:
    """A kept article (its ``revision`` set) on ``news.unique``."""
    return Emit.record(UNIQUE, article.article_id, article)


def language(article: Article) -> str:
    # Copies in different languages are not near-duplicates (3-shingles do not cross
    # languages), and the detected language of one text is always the same: every key of the
    # content steps starts with it, so languages are never compared with each other.
    return article.language or "und"


def hash_key(article: Article) -> str:
    """Key of the exact-copy step: every copy of one text (in one language) meets there."""
    return f"{language(article)}|{article.content_hash}"


@dataclass
class DedupUrlStage:
    """Step 1 of the stream, keyed by article id: re-fetches and revisions of one URL. Every
    step keeps each input partition's state under its own key prefix and expires it while
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
                return StageResult("duplicate", [duplicate_event(article, d)])
            detector.remember_url(aid, chash, sig, d.revision, now)
        forward = article.model_copy(update={"revision": d.revision, "fingerprint": sig.to_hex()})
        return StageResult(d.kind, [Emit.record(DEDUP_HASH, hash_key(article), forward)])


@dataclass
class DedupHashStage:
    """Step 2, keyed by language and content hash (table ``by_hash``: the first article kept
    with that text). An exact copy under another URL is a ``same_content`` duplicate here. A
    revision is kept (as before: only first versions are matched) and filed under its bands.
    A short text (under ``MIN_SHINGLES``) is only matched exactly, so it is kept here. Any other
    article goes to the gather step, and one probe per band to the band step."""

    detector: Deduplicator
    name: str = "dedup_hash"

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        if b'"kind":"DuplicateEvent"' in value[:40]:
            return self._fate(key, DuplicateEvent.from_json(value), origin)
        article = Article.from_json(value)
        now = article.fetched_at.timestamp()
        # by_hash is keyed as the topic is, language and hash: languages are never compared.
        aid, text = article.article_id, hash_key(article)
        detector = self.detector.for_partition(origin.partition)
        detector.maybe_expire(now)
        first = detector.first_with_text(text, now)
        if article.revision == 0 and first is not None and first != aid:
            entry: HashEntry | None = detector.by_hash.get(text)
            if entry is not None and "near" in entry:  # the first was itself a copy
                d = Decision("duplicate", 0, first, "near_duplicate", entry["near"])
            else:
                d = detector.same_content(first)
            return StageResult("duplicate", [duplicate_event(article, d)])
        if first is None:
            # Redelivered, this article finds its own entry and goes on as the first time.
            detector.remember_text(aid, text, now)
        sig = article_signature(article)
        if sig.size < MIN_SHINGLES:
            return StageResult("revision" if article.revision else "new", [unique(article)])
        probes = band_probes(article, sig, answer=article.revision == 0)
        if article.revision:
            return StageResult("revision", [unique(article), *probes])
        pending = PendingArticle(article=article, bands=len(probes))
        return StageResult("probed", [Emit.record(DEDUP_GATHER, aid, pending), *probes])

    def _fate(self, key: bytes | None, event: DuplicateEvent, origin: SourceRef) -> StageResult:
        """The gather step found the first article with this text to be a near-duplicate:
        duplicates are not remembered, so later exact copies of it name its original (with
        its score: the same text scores the same), as one content step did."""
        if key is None:
            raise MalformedRecord("DuplicateEvent on news.dedup.hash without a key")
        text = key.decode()
        by_hash = self.detector.for_partition(origin.partition).by_hash
        entry = by_hash.get(text)
        if entry is None or entry["id"] != event.article_id:
            return StageResult("fate_ignored")
        by_hash[text] = {"id": event.duplicate_of, "t": entry["t"], "near": event.similarity}
        return StageResult("fate")


def band_probes(article: Article, sig: Signature, *, answer: bool) -> list[Emit]:
    """One ``BandProbe`` per band, keyed ``language|band key``."""
    lang, fp = language(article), sig.to_hex()
    return [
        Emit.record(
            DEDUP_BANDS,
            f"{lang}|{band_key}",
            BandProbe(
                article_id=article.article_id,
                band=band,
                fetched_at=article.fetched_at,
                fingerprint=fp,
                answer=answer,
            ),
        )
        for band, band_key in enumerate(sig.band_keys())
    ]
