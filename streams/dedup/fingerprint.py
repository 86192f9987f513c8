"""64-bit SimHash over word 3-shingles, vectorised with numpy.

Word shingles (not characters) keep the fingerprint stable under re-wrapped lines and
changed punctuation, while a reordered or rewritten article moves many bits.
"""

from __future__ import annotations

import re
from hashlib import blake2b

import numpy as np

_WORD = re.compile(r"\w+")
SHINGLE = 3


def _shingle_hashes(text: str) -> np.ndarray:
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE:
        words = words + [""] * (SHINGLE - len(words))
    grams = [" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]
    # Python's str hash is salted per process; fingerprints must be stable across workers,
    # so hash with a keyless 8-byte BLAKE2b (C speed) instead.
    digests = b"".join(blake2b(g.encode(), digest_size=8).digest() for g in grams)
    return np.frombuffer(digests, dtype="<u8")


def simhash(text: str) -> int:
    """The SimHash of ``text`` as an unsigned 64-bit int (0 for empty text)."""
    if not text.strip():
        return 0
    hashes = _shingle_hashes(text)
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(hashes)
    return int(np.packbits(votes > 0, bitorder="little").view("<u8")[0])


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
