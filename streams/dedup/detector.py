"""Decide, for each Article in stream order, whether it is new, a revision or a duplicate.

State lives in three mappings (faust tables in the worker, dicts in tests and the CLI):

- ``by_id``: article id -> last version seen (content hash, fingerprint, revision, time)
- ``by_hash``: content hash -> article id of the first article with that text
- ``by_band``: SimHash band -> recent (article id, fingerprint) pairs; a near-duplicate shares
  at least one band exactly when its Hamming distance is below the number of bands
  (pigeonhole), so candidates are found without scanning all fingerprints.

Entries older than ``window_s`` are ignored, which bounds what a reprint is compared with.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from streams.dedup.fingerprint import hamming

Kind = Literal["new", "revision", "duplicate"]
BANDS = 4
BAND_BITS = 64 // BANDS
MAX_PER_BAND = 32  # bounded bucket: a very common band value must not grow without limit


@dataclass(frozen=True)
class Decision:
    kind: Kind
    revision: int = 0
    duplicate_of: str | None = None
    reason: Literal["same_url", "same_content", "near_duplicate"] | None = None
    similarity: float = 1.0


def bands(fingerprint: int) -> list[str]:
    mask = (1 << BAND_BITS) - 1
    return [f"{i}:{(fingerprint >> (i * BAND_BITS)) & mask:x}" for i in range(BANDS)]


class Deduplicator:
    def __init__(
        self,
        by_id: MutableMapping[str, Any],
        by_hash: MutableMapping[str, Any],
        by_band: MutableMapping[str, Any],
        *,
        window_s: float,
        max_distance: int = BANDS - 1,
    ) -> None:
        self.by_id, self.by_hash, self.by_band = by_id, by_hash, by_band
        self.window_s = window_s
        self.max_distance = min(max_distance, BANDS - 1)

    def decide(self, article_id: str, content_hash: str, fingerprint: int, now: float) -> Decision:
        prev = self._fresh(self.by_id.get(article_id), now)
        if prev is not None:
            if prev["hash"] == content_hash:
                return Decision("duplicate", prev["rev"], article_id, "same_url")
            decision = Decision("revision", prev["rev"] + 1)
        else:
            decision = self._match_other(article_id, content_hash, fingerprint, now)
            if decision.kind == "duplicate":
                return decision
        self._remember(article_id, content_hash, fingerprint, decision.revision, now)
        return decision

    def _match_other(self, article_id: str, chash: str, fp: int, now: float) -> Decision:
        first = self._fresh(self.by_hash.get(chash), now)
        if first is not None and first["id"] != article_id:
            return Decision("duplicate", 0, first["id"], "same_content")
        if fp == 0:
            return Decision("new")
        best: tuple[int, str] | None = None
        for band in bands(fp):
            for other_id, other_fp, seen in self.by_band.get(band, ()):
                if other_id == article_id or now - seen > self.window_s:
                    continue
                d = hamming(fp, int(other_fp, 16))
                if d <= self.max_distance and (best is None or d < best[0]):
                    best = (d, other_id)
        if best is None:
            return Decision("new")
        return Decision("duplicate", 0, best[1], "near_duplicate", 1 - best[0] / 64)

    def _remember(self, article_id: str, chash: str, fp: int, rev: int, now: float) -> None:
        self.by_id[article_id] = {"hash": chash, "fp": f"{fp:016x}", "rev": rev, "t": now}
        if self._fresh(self.by_hash.get(chash), now) is None:
            self.by_hash[chash] = {"id": article_id, "t": now}
        if fp == 0:
            return
        for band in bands(fp):
            bucket = [e for e in self.by_band.get(band, ()) if now - e[2] <= self.window_s]
            bucket.append([article_id, f"{fp:016x}", now])
            # Re-assign (not mutate) so a changelog-backed table records the change.
            self.by_band[band] = bucket[-MAX_PER_BAND:]

    def _fresh(self, entry: Any, now: float) -> Any:
        if entry is None or now - entry["t"] > self.window_s:
            return None
        return entry
