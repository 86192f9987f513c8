"""Decide, for each Article in stream order, whether it is new, a revision or a duplicate.

State lives in three mappings (faust tables in the worker, dicts in tests and the CLI); values
are JSON-serialisable and always re-assigned, never mutated, so a table changelog sees them:

- ``by_id``: article id -> ``{"hash", "fp", "rev", "t"}``, the last version seen of that URL,
  plus ``"fp0"``, its first version's signature, once it has been revised, and ``"seen"``, the
  ``[t, hash prefix, rev]`` of its last earlier versions (to recognise their redelivery)
- ``by_hash``: content hash -> ``{"id", "t"}``, the first article with exactly that text
- ``by_band``: LSH band key -> ``[[article id, t], ...]``, the newest ``max_per_band`` articles
  whose signature has that band; near-duplicates share a band with high probability, so
  candidates are found without scanning every signature, then verified on the full signature.
  It is an index over ``by_id`` (whose entries hold the signatures): the worker passes
  ``by_band=None`` and keeps it in memory only, rebuilt from ``by_id`` after a restart or a
  rebalance, instead of writing 32 changelog records per kept article.

A new text is a near-duplicate of an older one when at least ``min_containment`` of its
shingles are estimated to be in the older text (see README.md for how 0.7 was chosen). Entries
older than ``window_s`` are ignored and dropped by ``expire``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from streams.dedup.fingerprint import Signature, overlap, size_and_band_keys
from streams.dedup.state import PartitionView

Kind = Literal["new", "revision", "duplicate"]
Reason = Literal["same_url", "same_content", "near_duplicate"]
MAX_PER_BAND = 32  # bounded bucket: a band shared by boilerplate must not grow without limit
MIN_CONTAINMENT = 0.7
# Below ~20 shingles two different texts ("All photos (18)" vs "All photos (9)") look alike;
# such short texts are only matched exactly.
MIN_SHINGLES = 20
# A few agreeing rows between a short text and a very long one are chance, not evidence.
MIN_AGREEING_ROWS = 8
# A copy wrapped in another site's leftovers (menu line, related headlines, footer) holds all of
# the older text plus a little more. It is a duplicate when at least this much of the older
# text is in it and it is at most this much longer; pair 109 of the stories set (the same
# report grown to twice its length with new quotes) must stay new, so growth stays well below 2.
MIN_COVERED = 0.9
MAX_GROWTH = 1.5
# Expiry scans every entry of a partition: once per this much stream (event) time is plenty
# against a window of days, and costs ~1 s per million entries.
EXPIRE_EVERY_S = 600.0
# Earlier versions of a revised URL remembered for recognising their redelivery (bounded).
MAX_VERSIONS = 8


@dataclass(frozen=True)
class Decision:
    kind: Kind
    revision: int = 0
    duplicate_of: str | None = None
    reason: Reason | None = None
    similarity: float = 1.0


@lru_cache(maxsize=8192)
def _parse(fp: str) -> Signature | None:
    # Candidates recur across bands and articles; parsing hex is most of a comparison's cost.
    return Signature.from_hex(fp)


class Deduplicator:
    def __init__(
        self,
        by_id: MutableMapping[str, Any],
        by_hash: MutableMapping[str, Any],
        by_band: MutableMapping[str, Any] | None,
        *,
        window_s: float,
        min_containment: float = MIN_CONTAINMENT,
        min_covered: float = MIN_COVERED,
        max_per_band: int = MAX_PER_BAND,
    ) -> None:
        """``by_band=None`` keeps the band index in memory only, derived from ``by_id`` (whose
        entries hold every signature the index needs) and rebuilt from it on first use: in the
        worker that spares 32 changelog records per kept article (see ``band_index``)."""
        self.by_id, self.by_hash = by_id, by_hash
        self.derived_bands = by_band is None
        self._by_band: MutableMapping[str, Any] | None = by_band
        self.window_s = window_s
        self.min_containment = min_containment
        self.min_covered = min_covered
        self.max_per_band = max_per_band
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
    def by_band(self) -> MutableMapping[str, Any]:
        if self._by_band is None:
            self._by_band = self.band_index()
        return self._by_band

    def band_index(self) -> dict[str, list[list[Any]]]:
        """The ``by_band`` buckets derived from ``by_id``: every kept article's latest and
        first signature (``fp``, ``fp0``), newest ``max_per_band`` per band key, each entry
        ``[article id, t]`` with the ``by_id`` entry's time. Candidates are verified against
        exactly those two signatures, so this finds what a stored index would."""
        entries: dict[str, list[tuple[int, str]]] = {}
        for aid, entry in list(self.by_id.items()):
            t = int(entry["t"])
            keys: set[str] = set()
            for fp in (entry.get("fp"), entry.get("fp0")):
                parsed = size_and_band_keys(fp) if fp else None
                if parsed is not None and parsed[0] >= MIN_SHINGLES:
                    keys.update(parsed[1])
            for key in keys:
                entries.setdefault(key, []).append((t, aid))
        return {
            key: [[aid, t] for t, aid in sorted(bucket)[-self.max_per_band :]]
            for key, bucket in entries.items()
        }

    def maybe_expire(self, now: float) -> int:
        """``expire`` at most once per ``EXPIRE_EVERY_S`` of event time; call it per record."""
        if self._last_expiry is not None and now - self._last_expiry < EXPIRE_EVERY_S:
            return 0
        self._last_expiry = now
        return self.expire(now)

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

    def _best_match(self, article_id: str, sig: Signature, now: float) -> tuple[float, str] | None:
        """The candidate containing most of this text, if it contains enough of it."""
        best: tuple[float, str] | None = None
        for other_id in self._candidates(article_id, sig, now):
            other = self._fresh(self.by_id.get(other_id), now)
            # A revised URL keeps its first version too: a copy of that is still its copy.
            versions = (other.get("fp"), other.get("fp0")) if other is not None else ()
            for old in (_parse(fp) for fp in versions if fp):
                score = self._copy_score(sig, old) if old is not None else None
                if score is not None and (best is None or score > best[0]):
                    best = (score, other_id)
        return best

    def _copy_score(self, sig: Signature, old: Signature) -> float | None:
        """How much of the new text the old one holds, when either text is (nearly) inside the
        other as defined above; None when they are not copies."""
        o = overlap(sig, old)
        if o.agreeing_rows < MIN_AGREEING_ROWS:
            return None
        if o.containment_low >= self.min_containment:
            return o.containment
        if (
            sig.size <= MAX_GROWTH * old.size
            and overlap(old, sig).containment_low >= self.min_covered
        ):
            return o.containment
        return None

    def remember(
        self, article_id: str, content_hash: str, sig: Signature | None, rev: int, now: float
    ) -> None:
        """Record a kept article (new or revision) so later copies of it are recognised."""
        self.remember_url(article_id, content_hash, sig, rev, now)
        self.remember_content(article_id, content_hash, sig, now)

    def remember_url(
        self, article_id: str, content_hash: str, sig: Signature | None, rev: int, now: float
    ) -> None:
        """The ``by_id`` half of ``remember`` (all a URL-keyed first step needs)."""
        fp = sig.to_hex() if sig is not None else ""
        entry: dict[str, Any] = {"hash": content_hash, "fp": fp, "rev": rev, "t": now}
        prev = self.by_id.get(article_id) if rev > 0 else None
        if prev is not None and prev.get("hash") != content_hash:
            entry["fp0"] = prev.get("fp0") or prev["fp"]
            # Earlier versions' fetch time, hash prefix and revision, for ``redelivered``.
            seen = [[prev["t"], prev["hash"][:16], prev["rev"]], *prev.get("seen", ())]
            entry["seen"] = seen[:MAX_VERSIONS]
        self.by_id[article_id] = entry

    def remember_content(
        self, article_id: str, content_hash: str, sig: Signature | None, now: float
    ) -> None:
        """The ``by_hash``/``by_band`` half; verification reads signatures from ``by_id``, so
        a content-keyed step also calls ``remember_url`` on its own ``by_id`` table."""
        if self._fresh(self.by_hash.get(content_hash), now) is None:
            self.by_hash[content_hash] = {"id": article_id, "t": now}
        if sig is None or sig.size < MIN_SHINGLES:
            return
        by_band = self.by_band
        for key in sig.band_keys():
            bucket = [
                e
                for e in by_band.get(key, ())
                if now - e[1] <= self.window_s and e[0] != article_id
            ]
            # Whole seconds: 32 bucket entries per article make every byte count.
            bucket.append([article_id, int(now)])
            # Re-assign (not mutate) so a changelog-backed table records the change.
            by_band[key] = bucket[-self.max_per_band :]

    def expire(self, now: float) -> int:
        """Delete entries older than the window (call periodically); returns how many."""
        dropped = 0
        for table, stale in (
            (self.by_id, self._stale_keys(self.by_id, now)),
            (self.by_hash, self._stale_keys(self.by_hash, now)),
        ):
            for key in stale:
                del table[key]
                dropped += 1
        old_buckets = [
            k for k, v in self.by_band.items() if all(now - e[1] > self.window_s for e in v)
        ]
        for key in old_buckets:
            del self.by_band[key]
        return dropped + len(old_buckets)

    def _stale_keys(self, table: MutableMapping[str, Any], now: float) -> list[str]:
        return [k for k, v in table.items() if now - v["t"] > self.window_s]

    def _candidates(self, article_id: str, sig: Signature, now: float) -> Iterator[str]:
        seen = {article_id}
        by_band = self.by_band
        for key in sig.band_keys():
            for other_id, t in by_band.get(key, ()):
                if other_id not in seen and now - t <= self.window_s:
                    seen.add(other_id)
                    yield other_id

    def _fresh(self, entry: Any, now: float) -> Any:
        if entry is None or now - entry["t"] > self.window_s:
            return None
        return entry
