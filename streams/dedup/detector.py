"""Decide, for each Article in stream order, whether it is new, a revision or a duplicate.

``Deduplicator`` holds one step's state (``state.py``: ``by_id``, ``by_hash``; the band index
of ``bands.py``) and the rules of both steps: the URL step (``redelivered``, ``check_url``,
``remember_url``) and the content step (``match_content``, verified by ``matching.py``, and
``remember``). Entries older than ``window_s`` are ignored and dropped by ``expire``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from streams.dedup.bands import MAX_PER_BAND, BandEntry, BandIndex, derive
from streams.dedup.fingerprint import Signature
from streams.dedup.matching import (
    MIN_CONTAINMENT,
    MIN_COVERED,
    MIN_SHINGLES,
    copy_score,
    stored_signature,
)
from streams.dedup.state import HashEntry, PartitionView, SeenVersion, UrlEntry

Kind = Literal["new", "revision", "duplicate"]
Reason = Literal["same_url", "same_content", "near_duplicate"]
# Expiry scans every entry of a partition: once per this much stream (event) time is plenty
# against a window of days, and costs ~1 s per million entries.
EXPIRE_EVERY_S = 600.0
# Earlier versions of a revised URL remembered for recognising their redelivery (bounded).
MAX_VERSIONS = 8

Entry = TypeVar("Entry", UrlEntry, HashEntry)


@dataclass(frozen=True)
class Decision:
    kind: Kind
    revision: int = 0
    duplicate_of: str | None = None
    reason: Reason | None = None
    similarity: float = 1.0


class Deduplicator:
    def __init__(
        self,
        by_id: MutableMapping[str, UrlEntry],
        by_hash: MutableMapping[str, HashEntry],
        by_band: MutableMapping[str, list[BandEntry]] | None,
        *,
        window_s: float,
        min_containment: float = MIN_CONTAINMENT,
        min_covered: float = MIN_COVERED,
        max_per_band: int = MAX_PER_BAND,
    ) -> None:
        """``by_band=None`` keeps the band index in memory only, derived from ``by_id`` (whose
        entries hold every signature the index needs) and rebuilt from it on first use: in the
        worker that spares 32 changelog records per kept article (see ``bands.py``)."""
        self.by_id, self.by_hash = by_id, by_hash
        self.derived_bands = by_band is None
        self.window_s = window_s
        self.min_containment = min_containment
        self.min_covered = min_covered
        self.max_per_band = max_per_band
        self._bands = None if by_band is None else self._band_index_over(by_band)
        self._last_expiry: float | None = None
        self._partitions: dict[int, Deduplicator] = {}

    def for_partition(self, partition: int) -> Deduplicator:
        """A detector over this one's tables, restricted to keys of ``partition`` (see
        ``state.PartitionView``: expiry must only delete keys of the event's own partition)."""
        part = self._partitions.get(partition)
        if part is None:
            bands = None if self.derived_bands else PartitionView(self.by_band, partition)
            part = Deduplicator(
                PartitionView(self.by_id, partition),
                PartitionView(self.by_hash, partition),
                bands,
                window_s=self.window_s,
                min_containment=self.min_containment,
                min_covered=self.min_covered,
                max_per_band=self.max_per_band,
            )
            self._partitions[partition] = part
        return part

    def forget_partitions(self) -> None:
        """Drop the per-partition detectors (and derived band indexes) of ``for_partition``;
        call it when partitions move (a rebalance): the next event of a partition rebuilds its
        index from that partition's ``by_id`` as recovered, not as this process last saw it."""
        self._partitions.clear()

    @property
    def by_band(self) -> MutableMapping[str, list[BandEntry]]:
        return self._bands_index().buckets

    def band_index(self) -> dict[str, list[BandEntry]]:
        """The ``by_band`` buckets derived from ``by_id`` (``bands.derive``)."""
        return derive(self.by_id, self.max_per_band)

    def _bands_index(self) -> BandIndex:
        if self._bands is None:
            self._bands = self._band_index_over(self.band_index())
        return self._bands

    def _band_index_over(self, buckets: MutableMapping[str, list[BandEntry]]) -> BandIndex:
        return BandIndex(buckets, window_s=self.window_s, max_per_band=self.max_per_band)

    def maybe_expire(self, now: float) -> int:
        """``expire`` at most once per ``EXPIRE_EVERY_S`` of event time; call it per record."""
        if self._last_expiry is not None and now - self._last_expiry < EXPIRE_EVERY_S:
            return 0
        self._last_expiry = now
        return self.expire(now)

    def expire(self, now: float) -> int:
        """Delete entries older than the window (call periodically); returns how many."""
        dropped = 0
        for key in self._stale_keys(self.by_id, now):
            del self.by_id[key]
            dropped += 1
        for key in self._stale_keys(self.by_hash, now):
            del self.by_hash[key]
            dropped += 1
        return dropped + self._bands_index().expire(now)

    def decide(
        self, article_id: str, content_hash: str, sig: Signature | None, now: float
    ) -> Decision:
        """Classify and remember (unless a duplicate) by both steps' rules: for unit tests of the
        rules; what the worker's stages decide is ``pipeline.DedupPipeline``."""
        decision = self.check_url(article_id, content_hash, now)
        if decision.kind == "duplicate":
            return decision
        if decision.kind == "new":
            decision = self.match_content(article_id, content_hash, sig, now)
            if decision.kind == "duplicate":
                return decision
        self.remember(article_id, content_hash, sig, decision.revision, now)
        return decision

    # The URL step (keyed by article id): redelivery, re-fetch, revision.

    def redelivered(self, article_id: str, content_hash: str, now: float) -> Decision | None:
        """The decision this very fetch (same URL, fetch time and text) got when it was kept
        before; None when it was not.

        At-least-once: after a SIGKILL an input whose state change is durable (changelog) but
        whose offset commit is not comes again, and a stage upstream may re-emit its output
        as a new record. Either way it would find its own entry and pass for an unchanged
        re-fetch of its URL (a duplicate of itself). A real re-fetch has a later fetch time."""
        prev = self.by_id.get(article_id)
        if prev is None:
            return None
        if prev["t"] == now and prev["hash"] == content_hash:
            rev = int(prev["rev"])
        else:
            # An older version of a revised URL, redelivered after the newer one was kept.
            older = (v for v in prev.get("seen", ()) if v[0] == now and v[1] == content_hash[:16])
            rev = next((int(v[2]) for v in older), -1)
            if rev < 0:
                return None
        return Decision("revision" if rev else "new", rev)

    def check_url(self, article_id: str, content_hash: str, now: float) -> Decision:
        """Same URL seen before: an unchanged re-fetch (duplicate) or a revision; else new."""
        prev = self._fresh(self.by_id.get(article_id), now)
        if prev is None:
            return Decision("new")
        if prev["hash"] == content_hash:
            return Decision("duplicate", prev["rev"], article_id, "same_url")
        return Decision("revision", prev["rev"] + 1)

    def remember_url(
        self, article_id: str, content_hash: str, sig: Signature | None, rev: int, now: float
    ) -> None:
        """The ``by_id`` half of ``remember`` (all a URL-keyed first step needs)."""
        fp = sig.to_hex() if sig is not None else ""
        entry: UrlEntry = {"hash": content_hash, "fp": fp, "rev": rev, "t": now}
        prev = self.by_id.get(article_id) if rev > 0 else None
        if prev is not None and prev.get("hash") != content_hash:
            entry["fp0"] = prev.get("fp0") or prev["fp"]
            # Earlier versions' fetch time, hash prefix and revision, for ``redelivered``.
            latest: SeenVersion = [prev["t"], prev["hash"][:16], prev["rev"]]
            entry["seen"] = [latest, *prev.get("seen", ())][:MAX_VERSIONS]
        self.by_id[article_id] = entry

    # The content step (keyed by language): the same or nearly the same text under another URL.

    def match_content(
        self, article_id: str, content_hash: str, sig: Signature | None, now: float
    ) -> Decision:
        """Another article with the same text, or containing most of this one; else new."""
        first = self._fresh(self.by_hash.get(content_hash), now)
        if first is not None and first["id"] != article_id:
            return Decision("duplicate", 0, first["id"], "same_content")
        if sig is None or sig.size < MIN_SHINGLES:
            return Decision("new")
        best = self._best_match(article_id, sig, now)
        if best is None:
            return Decision("new")
        return Decision("duplicate", 0, best[1], "near_duplicate", round(best[0], 4))

    # The exact-copy step (keyed by language and content hash): ``by_hash`` alone.

    def first_with_text(self, content_hash: str, now: float) -> str | None:
        """The article first kept with exactly this text inside the window, if any."""
        first = self._fresh(self.by_hash.get(content_hash), now)
        return None if first is None else first["id"]

    def remember_text(self, article_id: str, content_hash: str, now: float) -> None:
        self.by_hash[content_hash] = {"id": article_id, "t": now}

    @staticmethod
    def same_content(first: str) -> Decision:
        return Decision("duplicate", 0, first, "same_content")

    def _best_match(self, article_id: str, sig: Signature, now: float) -> tuple[float, str] | None:
        """The candidate containing most of this text, if it contains enough of it."""
        best: tuple[float, str] | None = None
        for other_id in self._bands_index().candidates(article_id, sig, now):
            other = self._fresh(self.by_id.get(other_id), now)
            # A revised URL keeps its first version too: a copy of that is still its copy.
            versions = (other.get("fp"), other.get("fp0")) if other is not None else ()
            for old in (stored_signature(fp) for fp in versions if fp):
                score = None if old is None else self._copy_score(sig, old)
                if score is not None and (best is None or score > best[0]):
                    best = (score, other_id)
        return best

    def _copy_score(self, sig: Signature, old: Signature) -> float | None:
        return copy_score(
            sig, old, min_containment=self.min_containment, min_covered=self.min_covered
        )

    def remember(
        self, article_id: str, content_hash: str, sig: Signature | None, rev: int, now: float
    ) -> None:
        """Record a kept article (new or revision) so later copies of it are recognised."""
        self.remember_url(article_id, content_hash, sig, rev, now)
        self.remember_content(article_id, content_hash, sig, now)

    def remember_content(
        self, article_id: str, content_hash: str, sig: Signature | None, now: float
    ) -> None:
        """The ``by_hash`` and band index half; verification reads signatures from ``by_id``,
        so a content-keyed step also calls ``remember_url`` on its own ``by_id`` table."""
        if self._fresh(self.by_hash.get(content_hash), now) is None:
            self.by_hash[content_hash] = {"id": article_id, "t": now}
        if sig is not None:
            self._bands_index().add(article_id, sig, now)

    def _stale_keys(self, table: Mapping[str, Entry], now: float) -> list[str]:
        return [k for k, v in table.items() if now - v["t"] > self.window_s]

    def _fresh(self, entry: Entry | None, now: float) -> Entry | None:
        if entry is None or now - entry["t"] > self.window_s:
            return None
        return entry
