"""The LSH band index: candidates for near-duplicate matching without scanning every signature.

Band key (``Signature.band_keys``) -> the newest ``max_per_band`` kept articles whose signature
has that band, oldest first, each ``(article id, whole seconds)``. Near-duplicates share a band
with high probability (README.md, "Candidates"); candidates are then verified on their full
signatures (``matching.py``).

It is an index over ``by_id``, whose entries hold every signature a candidate is verified
against (``fp`` and, once revised, ``fp0``): the worker keeps it in memory only and rebuilds it
with ``derive`` after a start or a rebalance, instead of writing 32 changelog records per kept
article. A mapping handed to ``BandIndex`` holds it instead (the tests compare both ways).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping

from streams.dedup.fingerprint import Signature, size_and_band_keys
from streams.dedup.matching import MIN_SHINGLES
from streams.dedup.state import UrlEntry

MAX_PER_BAND = 32  # bounded bucket: a band shared by boilerplate must not grow without limit

# (article id, fetch time in whole seconds: 32 entries per article make every byte count)
BandEntry = tuple[str, int]


def derive(by_id: Mapping[str, UrlEntry], max_per_band: int) -> dict[str, list[BandEntry]]:
    """The buckets of every kept article's latest and first signature (``fp``, ``fp0``), newest
    ``max_per_band`` per band key, each entry with the ``by_id`` entry's time. Candidates are
    verified against exactly those two signatures, so this finds what a stored index would."""
    entries: dict[str, list[tuple[int, str]]] = {}
    for aid, entry in list(by_id.items()):
        t = int(entry["t"])
        keys: set[str] = set()
        for fp in (entry.get("fp"), entry.get("fp0")):
            parsed = size_and_band_keys(fp) if fp else None
            if parsed is not None and parsed[0] >= MIN_SHINGLES:
                keys.update(parsed[1])
        for key in keys:
            entries.setdefault(key, []).append((t, aid))
    return {
        key: [(aid, t) for t, aid in sorted(bucket)[-max_per_band:]]
        for key, bucket in entries.items()
    }


class BandIndex:
    """Buckets of one partition's kept articles, each bounded and limited to the window."""

    def __init__(
        self, buckets: MutableMapping[str, list[BandEntry]], *, window_s: float, max_per_band: int
    ) -> None:
        self.buckets = buckets
        self.window_s = window_s
        self.max_per_band = max_per_band

    def add(self, article_id: str, sig: Signature, now: float) -> None:
        """File a kept article under each of its bands (short texts are only matched exactly)."""
        if sig.size < MIN_SHINGLES:
            return
        for key in sig.band_keys():
            bucket = [
                e
                for e in self.buckets.get(key, ())
                if now - e[1] <= self.window_s and e[0] != article_id
            ]
            bucket.append((article_id, int(now)))
            # Re-assign (not mutate) so that a changelog-backed table would record the change.
            self.buckets[key] = bucket[-self.max_per_band :]

    def candidates(self, article_id: str, sig: Signature, now: float) -> Iterator[str]:
        """Other articles in the window sharing a band with ``sig``, each once."""
        seen = {article_id}
        for key in sig.band_keys():
            for other_id, t in self.buckets.get(key, ()):
                if other_id not in seen and now - t <= self.window_s:
                    seen.add(other_id)
                    yield other_id

    def expire(self, now: float) -> int:
        """Drop buckets whose entries are all older than the window; returns how many."""
        old = [k for k, v in self.buckets.items() if all(now - e[1] > self.window_s for e in v)]
        for key in old:
            del self.buckets[key]
        return len(old)
