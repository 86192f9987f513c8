"""The trained statistical model: one multinomial logistic regression over three feature
blocks: hashed char n-gram TF-IDF, a sentence embedding scaled per language, and the term-rule
scores (so the model learns how far to trust each rule). Stored as one compressed .npz.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, hstack

from streams.classify import features
from streams.errors import ConfigError

MODEL_DIR = Path(__file__).with_name("model")
DEFAULT_MODEL = MODEL_DIR / "topics.npz"
Array = NDArray[np.float32]


def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: Array = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """How documents become the model's input; saved with the weights it was trained for."""

    # language -> weight of the embedding block ("*" for the rest); 0 when the encoder is absent
    embed_scale: dict[str, float]
    rule_topics: tuple[str, ...]
    rule_scale: float
    embed_dim: int = 512
    # uk lemma -> ru lemma: Ukrainian reaches the encoder as Russian words (``lexicon``)
    uk_lexicon: dict[str, str] = field(default_factory=dict)

    def scale(self, language: str | None) -> float:
        return self.embed_scale.get(language or "", self.embed_scale.get("*", 0.0))

    def matrix(
        self, idf: Array, titles: Sequence[str], texts: Sequence[str],
        langs: Sequence[str | None], rules: Sequence[dict[str, float]],
        embeddings: Array | None = None,
    ) -> csr_matrix:
        docs = [features.model_text(h, t, lang)
                for h, t, lang in zip(titles, texts, langs, strict=True)]
        char = features.tfidf(features.counts(docs), idf)
        scales = np.array([self.scale(lang) for lang in langs], dtype=np.float32)
        if embeddings is None:
            embeddings = np.zeros((len(docs), self.embed_dim), np.float32)
            if (scales > 0).any() and features.Embedder.available():
                raw = [f"{h}. {t}" for h, t in zip(titles, texts, strict=True)]
                embeddings = features.Embedder.encode(raw, langs, self.uk_lexicon)
        rule_block = np.array([[r.get(t, 0.0) for t in self.rule_topics] for r in rules],
                              dtype=np.float32).reshape(len(docs), len(self.rule_topics))
        dense = np.hstack([embeddings * scales[:, None], rule_block * self.rule_scale])
        return csr_matrix(hstack([char, csr_matrix(dense)]))


@dataclass
class TopicModel:
    """Classes are desk topics plus ``x-…`` classes the training sets have and desks lack."""

    version: str
    classes: list[str]
    idf: Array
    coef: Array  # classes x (char features + embedding + rule scores)
    bias: Array
    spec: FeatureSpec

    def proba(self, titles: Sequence[str], texts: Sequence[str], langs: Sequence[str | None],
              rules: Sequence[dict[str, float]]) -> Array:
        x = self.spec.matrix(self.idf, titles, texts, langs, rules)
        return softmax(np.asarray(x @ self.coef.T, dtype=np.float32) + self.bias)

    def top_features(self, doc: str, cls: int, k: int = 3) -> list[str]:
        """The character n-grams of this document that pushed hardest towards class ``cls``."""
        contrib: dict[str, float] = {}
        for gram in set(features.grams(doc)):
            if len(gram.strip()) < 3:  # bigrams and padded unigrams explain nothing to a reader
                continue
            w = float(self.coef[cls, features.bucket(gram)])
            if w > 0:
                contrib[gram] = w
        best = sorted(contrib.items(), key=lambda kv: -kv[1])[:k]
        return [f"ngram:{g.strip()}" for g, _ in best]

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        n = features.N_FEATURES
        info = {"version": self.version, "embed_scale": self.spec.embed_scale,
                "rule_topics": list(self.spec.rule_topics), "rule_scale": self.spec.rule_scale,
                "embed_dim": self.spec.embed_dim} | meta
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, classes=np.array(self.classes), idf=self.idf.astype(np.float16),
            char_coef=self.coef[:, :n].astype(np.float16), dense_coef=self.coef[:, n:],
            bias=self.bias, meta=np.array(json.dumps(info, ensure_ascii=False)),
            lexicon_uk=np.array(list(self.spec.uk_lexicon), dtype=str),
            lexicon_ru=np.array(list(self.spec.uk_lexicon.values()), dtype=str),
        )


def load_model(path: Path | None = None) -> TopicModel:
    path = path or DEFAULT_MODEL
    try:
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"topic model {path}: {exc}; run `newsstream classify-train`") from exc
    spec = FeatureSpec(
        embed_scale={str(k): float(v) for k, v in meta["embed_scale"].items()},
        rule_topics=tuple(meta["rule_topics"]), rule_scale=float(meta["rule_scale"]),
        embed_dim=int(meta["embed_dim"]),
        uk_lexicon=(dict(zip(map(str, z["lexicon_uk"]), map(str, z["lexicon_ru"]), strict=True))
                    if "lexicon_uk" in z.files else {}),
    )
    coef = np.hstack([z["char_coef"].astype(np.float32), z["dense_coef"].astype(np.float32)])
    return TopicModel(
        version=str(meta["version"]), classes=[str(c) for c in z["classes"]],
        idf=z["idf"].astype(np.float32), coef=coef, bias=z["bias"].astype(np.float32), spec=spec,
    )
