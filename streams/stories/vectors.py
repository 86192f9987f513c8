"""The story vector: the headline and the lead embedded apart, averaged, L2-normalised.

Chosen on half A of the stories pairs (docs/stories.md, "Representation"): the cosine of
this vector separated same-story from different-story pairs better (leave-one-out AUC on half
A 0.956) than the classify stage's single "title. lead" embedding of 160 characters (0.912) or
the headline alone (0.931). Independent write-ups of one event word their headlines alike and
their leads differently; two embeddings let each count. The price is two encoder calls per
article, about 2.2x the whole classify stage's time (``bench/stories.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streams.classify.encoder import Encoder, Matrix, embed_text

LEAD_CHARS = 300  # the first sentences: where an article names its event


def story_texts(title: str, text: str) -> list[str]:
    """What the encoder reads for one article: its headline and its lead (either may be
    missing: then the other alone)."""
    parts = [embed_text(title, ""), embed_text("", text, LEAD_CHARS)]
    return [p for p in parts if p.strip()] or ["."]


def story_vectors(titles: Sequence[str], texts: Sequence[str]) -> Matrix:
    """One story vector per article, all articles' texts in one encoder call."""
    groups = [story_texts(h, t) for h, t in zip(titles, texts, strict=True)]
    flat = Encoder.encode([s for g in groups for s in g])
    return mean_vectors(flat, [len(g) for g in groups])


def story_vector(title: str, text: str) -> Matrix:
    """One article's story vector (what the classify stage hands to the story stage)."""
    return np.asarray(story_vectors([title], [text])[0], dtype=np.float32)


def mean_vectors(flat: Matrix, sizes: Sequence[int]) -> Matrix:
    """Rows of ``flat`` averaged in consecutive groups of ``sizes``, each L2-normalised."""
    out = np.zeros((len(sizes), flat.shape[1] if flat.ndim == 2 else 0), dtype=np.float32)
    start = 0
    for i, size in enumerate(sizes):
        v = flat[start : start + size].sum(axis=0)
        out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        start += size
    return out
