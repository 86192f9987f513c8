"""MinHash signatures over word 3-shingles, and what two signatures say about their texts.

A signature keeps, for each of ``NUM_PERM`` random orderings of all possible shingles, 16 bits
of the text's first shingle in that ordering. Two texts agree on a row with probability equal
to the Jaccard similarity of their shingle sets; with the set sizes (also kept) that gives an
estimate of *containment*: how much of the newer text is already in the older one, which is
what "this page adds nothing" means and what catches a short copy inside a longer page.

Word shingles (not characters) keep the signature stable under re-wrapped lines, changed
quotes and punctuation, while a rewritten sentence changes every shingle it touches.

The encoded fingerprint is ``m1`` + 4 hex digits of the shingle count + 4 hex digits per row
(518 characters): 258 bytes of information, stored once per article.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from hashlib import blake2b

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+")
SHINGLE = 3
# 128 rows: with 64 the containment estimate wobbles by +-0.15 around the 0.6-0.75 range that
# separates reprints from rewrites (measured on the stories pairs, see README.md).
NUM_PERM = 128
ROWS_PER_BAND = 2
# 32 bands of 2 rows (the first 64 rows): a pair sharing 20 % of its shingles meets in some
# band 3 times in 4, unrelated pairs (Jaccard ~0.01) about 1 time in 300.
BANDS = 32
VERSION = "m1"
_MAX_SIZE = 0xFFFF
_ENCODED_LEN = len(VERSION) + 4 + 4 * NUM_PERM

# Fixed seeds, not per-process randomness: every worker and every replay must produce the
# same signature for the same text. Odd multipliers make x -> a*x + b a bijection mod 2**64.
_rng = np.random.default_rng(0x5EED_D00D)
_MUL = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_ADD = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
del _rng

U16 = npt.NDArray[np.uint16]
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True, eq=False)
class Signature:
    """A text's MinHash rows and its number of distinct shingles."""

    size: int
    rows: U16
    # The fingerprint this signature was read from (``from_hex``): the stages pass the one the
    # clean stage computed on to the next topic and into the state without encoding it again.
    _hex: str | None = field(default=None, repr=False)

    def to_hex(self) -> str:
        if self._hex is not None:
            return self._hex
        return f"{VERSION}{min(self.size, _MAX_SIZE):04x}{self.rows.astype('>u2').tobytes().hex()}"

    @classmethod
    def from_hex(cls, fingerprint: str) -> Signature | None:
        """Parse a fingerprint; None for an empty, foreign (e.g. old SimHash) or broken one."""
        if len(fingerprint) != _ENCODED_LEN or not fingerprint.startswith(VERSION):
            return None
        try:
            size = int(fingerprint[2:6], 16)
            raw = bytes.fromhex(fingerprint[6:])
        except ValueError:
            return None
        rows = np.frombuffer(raw, dtype=">u2").astype(np.uint16)
        return cls(size, rows, fingerprint.lower())

    def band_keys(self) -> list[str]:
        """One bucket key per band: the band number and its rows (LSH banding). Computed once
        per signature (a kept article's are looked up, then written); do not mutate the list."""
        return self._band_keys

    @cached_property
    def _band_keys(self) -> list[str]:
        # The rows' bytes in native order, as the keys have always been spelled (a stored
        # index written before this still matches); one hex string sliced per band.
        width = 4 * ROWS_PER_BAND
        rows = self.rows[: BANDS * ROWS_PER_BAND].tobytes().hex()
        return [f"{b:02d}{rows[b * width : b * width + width]}" for b in range(BANDS)]

    def agreement(self, other: Signature) -> int:
        """How many rows the two signatures share (binomial in their Jaccard similarity)."""
        return int(np.count_nonzero(self.rows == other.rows))


def size_and_band_keys(fingerprint: str) -> tuple[int, list[str]] | None:
    """``(size, band_keys())`` of an encoded fingerprint (rebuilding a band index does this for
    every stored article); None when ``Signature.from_hex`` would return None."""
    sig = Signature.from_hex(fingerprint)
    return None if sig is None else (sig.size, sig.band_keys())


def shingle_hashes(text: str) -> U64:
    """Distinct 64-bit hashes of the text's casefolded word 3-shingles (empty for < 3 words)."""
    words = _WORD.findall(text.casefold())
    grams = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    # Python's str hash is salted per process; hash with a keyless 8-byte BLAKE2b instead.
    digests = b"".join(blake2b(g.encode(), digest_size=8).digest() for g in grams)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def signature(text: str) -> Signature:
    """The MinHash signature of ``text``; size 0 (all-zero rows) when it has no shingle."""
    hashes = shingle_hashes(text)
    if hashes.size == 0:
        return Signature(0, np.zeros(NUM_PERM, dtype=np.uint16))
    # Multiply-add modulo 2**64 (numpy wraps) permutes hash values; the shingle that comes
    # first in each permutation is the row, and 16 of its own hash bits identify it.
    with np.errstate(over="ignore"):
        ordered = hashes[:, None] * _MUL[None, :] + _ADD[None, :]
    first = hashes[np.argmin(ordered, axis=0)]
    rows = ((first >> np.uint64(24)) & np.uint64(0xFFFF)).astype(np.uint16)
    return Signature(int(hashes.size), rows)


def fingerprint(text: str) -> str:
    """The Article ``fingerprint`` field for ``text``."""
    return signature(text).to_hex()


@dataclass(frozen=True)
class Overlap:
    """Estimated overlap of a new text with an older one."""

    agreeing_rows: int
    containment: float  # share of the new text's shingles that are in the old text
    containment_low: float  # the same from Jaccard minus one standard error


def _containment(j: float, new: int, old: int) -> float:
    # |A ∩ B| = J (|A| + |B|) / (1 + J) for sets A, B with Jaccard J.
    return min(1.0, j * (new + old) / (1 + j) / new)


def overlap(new: Signature, old: Signature) -> Overlap:
    """Estimate the containment of ``new`` in ``old`` from their signatures (via Jaccard)."""
    agree = new.agreement(old)
    j = agree / NUM_PERM
    if new.size == 0:
        return Overlap(agree, 0.0, 0.0)
    # The row agreement is binomial; deciding on a one-standard-error lower bound keeps a
    # lucky draw (a follow-up sharing half its text scoring 0.74) from merging two stories.
    low = max(0.0, j - math.sqrt(j * (1 - j) / NUM_PERM))
    return Overlap(
        agree, _containment(j, new.size, old.size), _containment(low, new.size, old.size)
    )
