"""Verifying a candidate on the full signatures: is one text (nearly) inside the other?

A new text is a near-duplicate of an older one when at least ``MIN_CONTAINMENT`` of its
shingles are estimated to be in the older text, or when it holds at least ``MIN_COVERED`` of
the older text and is at most ``MAX_GROWTH`` times its size (a copy in another site's chrome).
How the thresholds were chosen: README.md, "Thresholds".
"""

from __future__ import annotations

from functools import lru_cache

from streams.dedup.fingerprint import Signature, overlap

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


@lru_cache(maxsize=8192)
def stored_signature(fp: str) -> Signature | None:
    """A kept article's signature from its stored fingerprint. Candidates recur across bands
    and articles; parsing hex is most of a comparison's cost."""
    return Signature.from_hex(fp)


def copy_score(
    new: Signature, old: Signature, *, min_containment: float, min_covered: float
) -> float | None:
    """How much of the new text the old one holds, when either text is (nearly) inside the
    other as defined above; None when they are not copies."""
    o = overlap(new, old)
    if o.agreeing_rows < MIN_AGREEING_ROWS:
        return None
    if o.containment_low >= min_containment:
        return o.containment
    if new.size <= MAX_GROWTH * old.size and overlap(old, new).containment_low >= min_covered:
        return o.containment
    return None
