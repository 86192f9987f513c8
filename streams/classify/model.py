"""The trained desk model: one binary logistic regression per class over the sentence embedding
of title + lead and the term-rule scores, with a calibrated threshold per class.

Multi-label by construction: every class is scored on its own, so an article can be crime and
emergencies at once. Each class's threshold is the one that maximised F1 on out-of-fold
predictions in training (``train.py``). Scores are reported on one scale for every class: the
probability is mapped piecewise-linearly so that the class's threshold lands on 0.5. A score
of 0.5 therefore means "exactly at this desk's threshold" whatever the desk, and the
taxonomy's thresholds, the review line and the ranking of desks all read the same scale.
Stored as one compressed .npz (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streams.classify.encoder import DIM, Encoder, embed_text
from streams.errors import ConfigError

MODEL_DIR = Path(__file__).with_name("model")
DEFAULT_MODEL = MODEL_DIR / "topics.npz"
Array = NDArray[np.float32]


def sigmoid(z: Array) -> Array:
    out: Array = (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)
    return out


def to_score(p: Array, threshold: Array) -> Array:
    """Probability -> desk score with the class's threshold at 0.5 (monotone per class)."""
    t = np.clip(threshold, 1e-3, 1 - 1e-3)
    below = 0.5 * p / t
    above = 0.5 + 0.5 * (p - t) / (1.0 - t)
    out: Array = np.where(p < t, below, above).astype(np.float32)
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """How documents become the model's input; saved with the weights it was trained for."""

    rule_topics: tuple[str, ...]
    rule_scale: float = 1.0
    embed_dim: int = DIM

    def rule_column(self, topic: str) -> int | None:
        """The column of this topic's rule score in ``matrix``."""
        if topic not in self.rule_topics:
            return None
        return self.embed_dim + self.rule_topics.index(topic)

    def matrix(self, embeddings: Array, rules: Sequence[dict[str, float]]) -> Array:
        rule_block = np.array(
            [[r.get(t, 0.0) for t in self.rule_topics] for r in rules], dtype=np.float32
        ).reshape(len(rules), len(self.rule_topics))
        return np.hstack([embeddings, rule_block * self.rule_scale]).astype(np.float32)


def embed(titles: Sequence[str], texts: Sequence[str]) -> Array:
    return Encoder.encode([embed_text(h, t) for h, t in zip(titles, texts, strict=True)])


@dataclass
class TopicModel:
    """Classes are desk topics plus ``x-…`` classes the training sets have and desks lack."""

    version: str
    classes: list[str]
    coef: Array  # classes x (embedding + rule scores)
    bias: Array  # classes
    thresholds: Array  # classes: probability at which the class is assigned
    spec: FeatureSpec
    meta: dict[str, Any]
    # classes whose term-rule score is OR-ed into the model's (where training measured a gain)
    rules_or: NDArray[np.bool_] | None = None

    def or_rules(self, name: str) -> bool:
        if self.rules_or is None or name not in self.classes:
            return False
        return bool(self.rules_or[self.classes.index(name)])

    def proba(self, x: Array) -> Array:
        return sigmoid(x @ self.coef.T + self.bias)

    def scores(
        self,
        titles: Sequence[str],
        texts: Sequence[str],
        rules: Sequence[dict[str, float]],
        embeddings: Array | None = None,
    ) -> tuple[Array, Array]:
        """(probabilities, desk scores), one row per document."""
        emb = embed(titles, texts) if embeddings is None else embeddings
        p = self.proba(self.spec.matrix(emb, rules))
        return p, to_score(p, self.thresholds)

    def save(self, path: Path) -> None:
        info = {
            "version": self.version,
            "rule_topics": list(self.spec.rule_topics),
            "rule_scale": self.spec.rule_scale,
            "embed_dim": self.spec.embed_dim,
        } | self.meta
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            classes=np.array(self.classes),
            coef=self.coef.astype(np.float32),
            bias=self.bias.astype(np.float32),
            thresholds=self.thresholds.astype(np.float32),
            rules_or=(
                self.rules_or
                if self.rules_or is not None
                else np.zeros(len(self.classes), dtype=bool)
            ),
            meta=np.array(json.dumps(info, ensure_ascii=False)),
        )


def load_model(path: Path | None = None) -> TopicModel:
    path = path or DEFAULT_MODEL
    try:
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        spec = FeatureSpec(
            rule_topics=tuple(meta["rule_topics"]),
            rule_scale=float(meta["rule_scale"]),
            embed_dim=int(meta["embed_dim"]),
        )
        return TopicModel(
            version=str(meta["version"]),
            classes=[str(c) for c in z["classes"]],
            coef=z["coef"].astype(np.float32),
            bias=z["bias"].astype(np.float32),
            thresholds=z["thresholds"].astype(np.float32),
            spec=spec,
            meta=meta,
            rules_or=z["rules_or"].astype(bool) if "rules_or" in z.files else None,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"topic model {path}: {exc}; run `newsstream classify-train`") from exc
