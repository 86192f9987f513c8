"""Reproducible training: ``newsstream classify-train`` or ``python -m streams.classify.train``.

Fits one binary logistic regression per class on the training splits (plus stored editors'
corrections) and writes ``model/topics.npz``. A class learns only from the examples whose label
for it is known (``data.py``). Its threshold is the one that maximises F1 on out-of-fold
probabilities (5 folds, translations and reprints of one item kept in one fold), so the held-out
splits stay unseen until ``classify-eval``. Deterministic: fixed folds, lbfgs, no sampling.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from streams.classify import data
from streams.classify.data import Example
from streams.classify.encoder import ENCODER_NAME, cached_encode, embed_text
from streams.classify.model import DEFAULT_MODEL, FeatureSpec, TopicModel
from streams.classify.rules import TermRules
from streams.classify.taxonomy import load_taxonomy

# Inverse L2 strength; chosen by the cross-validation recorded in README.md.
C = 4.0
RULE_SCALE = 1.0
# Balanced: each class's positives weigh as much as its negatives (small desks such as
# diplomacy otherwise sit under every threshold in languages they have no labels in).
CLASS_WEIGHT: str | None = "balanced"
FOLDS = 5
# A class with fewer known positives than this is not learned (term rules only).
MIN_POSITIVES = 20
# Thresholds outside this range are a sign of too little data, not of a real optimum.
THRESHOLD_RANGE = (0.15, 0.85)
DEFAULT_CACHE = Path.home() / ".cache" / "newsstream" / "e5-train.npz"

Matrix = NDArray[np.float32]
Progress = Callable[[str], None]


def _lr() -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=2000, class_weight=CLASS_WEIGHT)


def best_threshold(y: NDArray[Any], p: NDArray[Any]) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of ``p >= threshold`` within ``THRESHOLD_RANGE``."""
    best = (0.5, -1.0)
    for t in np.arange(THRESHOLD_RANGE[0], THRESHOLD_RANGE[1] + 1e-9, 0.01):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / max(float(pred.sum()) + float((y == 1).sum()), 1.0)
        if f1 > best[1] + 1e-9:
            best = (round(float(t), 2), f1)
    return best


def fit_class(
    x: Matrix, y: NDArray[Any], groups: NDArray[Any]
) -> tuple[LogisticRegression, NDArray[Any]]:
    """The final model and its out-of-fold probabilities on the same rows."""
    oof = np.zeros(len(y), dtype=np.float32)
    for train_rows, test_rows in GroupKFold(n_splits=FOLDS).split(x, y, groups):
        if len(set(y[train_rows].tolist())) < 2:
            continue
        oof[test_rows] = _lr().fit(x[train_rows], y[train_rows]).predict_proba(x[test_rows])[:, 1]
    return _lr().fit(x, y), oof


def features_for(
    examples: list[Example], cache: Path | None, progress: Progress
) -> tuple[Matrix, FeatureSpec]:
    taxonomy = load_taxonomy()
    rules = TermRules(taxonomy)
    rule_scores = [rules.score(e.title, e.text, e.language).scores for e in examples]
    texts = [embed_text(e.title, e.text) for e in examples]

    def said(done: int, total: int) -> None:
        progress(f"embedding {done}/{total} texts not in the cache")

    emb = cached_encode(texts, cache, said)
    spec = FeatureSpec(tuple(taxonomy.topic_names()), RULE_SCALE)
    return spec.matrix(emb, rule_scores), spec


def fit_all(
    examples: list[Example], x: Matrix, progress: Progress
) -> tuple[list[str], Matrix, Matrix, Matrix, dict[str, Any]]:
    """Per class: (classes, coef, bias, thresholds, cross-validation figures)."""
    groups = np.array([e.group and f"{e.source}:{e.group}" or f"row:{i}"
                       for i, e in enumerate(examples)])
    classes, coefs, biases, thresholds, cv = [], [], [], [], {}
    for name in data.all_classes():
        rows = np.array([i for i, e in enumerate(examples) if name in e.labels], dtype=int)
        y = np.array([examples[i].labels[name] for i in rows], dtype=int)
        if rows.size == 0 or int(y.sum()) < MIN_POSITIVES or int(y.sum()) == len(y):
            progress(f"{name}: {int(y.sum())} positives, not learned (term rules only)")
            continue
        model, oof = fit_class(x[rows], y, groups[rows])
        threshold, f1 = best_threshold(y, oof)
        classes.append(name)
        coefs.append(model.coef_[0])
        biases.append(model.intercept_[0])
        thresholds.append(threshold)
        cv[name] = {"positives": int(y.sum()), "negatives": int(len(y) - y.sum()),
                    "threshold": threshold, "oof_f1": round(f1, 3)}
        progress(f"{name}: {cv[name]}")
    return (classes, np.array(coefs, np.float32), np.array(biases, np.float32),
            np.array(thresholds, np.float32), cv)


def load_training(corrections: Path | None) -> list[Example]:
    examples = [e for e in data.load_all() if not e.held_out]
    if corrections is not None:
        examples += list(data.load_corrections(corrections))
    return examples


def train(corrections: Path | None, out: Path, cache: Path | None = DEFAULT_CACHE,
          progress: Progress | None = None) -> dict[str, Any]:
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    examples = load_training(corrections)
    say(f"{len(examples)} training examples from {sorted({e.source for e in examples})}")
    x, spec = features_for(examples, cache, say)
    classes, coef, bias, thresholds, cv = fit_all(examples, x, say)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": ENCODER_NAME,
        "trained_on": dict(Counter(f"{e.source}/{e.language}" for e in examples)),
        "taxonomy_version": load_taxonomy().version,
        "command": "newsstream classify-train"
        + (f" --corrections {corrections.name}" if corrections else ""),
        "C": C, "cv": cv,
        "seconds": round(time.perf_counter() - started, 1),
    }
    model = TopicModel(f"e5lr-{stamp}", classes, coef, bias, thresholds, spec, meta)
    model.save(out)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corrections", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    meta = train(args.corrections, args.out, None if args.no_cache else DEFAULT_CACHE,
                 lambda msg: print(msg, file=sys.stderr, flush=True))
    print(meta)


if __name__ == "__main__":
    main()
