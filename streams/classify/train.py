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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from streams.classify import data
from streams.classify.data import Example
from streams.classify.encoder import ENCODER_NAME, cached_encode, embed_text
from streams.classify.model import DEFAULT_MODEL, FeatureSpec, TopicModel, to_score
from streams.classify.rules import TermRules
from streams.classify.taxonomy import load_taxonomy

# Inverse L2 strength: per class, the value of this grid with the best out-of-fold F1.
C_GRID = (4.0, 16.0)
RULE_SCALE = 1.0
# Balanced: each class's positives weigh as much as its negatives (small desks such as
# diplomacy otherwise sit under every threshold in languages they have no labels in).
CLASS_WEIGHT: str | None = "balanced"
FOLDS = 5
TITLE_VIEWS = True
# Out-of-fold F1 a class's term rules must add (OR-ed into the model) to stay in its score.
RULE_GAIN_MIN = 0.005
# A class with fewer known positives than this is not learned (term rules only).
MIN_POSITIVES = 20
# Thresholds outside this range are a sign of too little data, not of a real optimum.
THRESHOLD_RANGE = (0.15, 0.85)
DEFAULT_CACHE = Path.home() / ".cache" / "newsstream" / "e5-train.npz"

Matrix = NDArray[np.float32]
Progress = Callable[[str], None]


def _lr(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000, class_weight=CLASS_WEIGHT)


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


def _fold(
    x: Matrix, y: NDArray[Any], train_rows: NDArray[Any], test_rows: NDArray[Any], c: float
) -> NDArray[Any]:
    if len(set(y[train_rows].tolist())) < 2:
        return np.zeros(len(test_rows), dtype=np.float32)
    fitted = _lr(c).fit(x[train_rows], y[train_rows])
    return np.asarray(fitted.predict_proba(x[test_rows])[:, 1], dtype=np.float32)


def out_of_fold(x: Matrix, y: NDArray[Any], groups: NDArray[Any], c: float) -> NDArray[Any]:
    """Out-of-fold probabilities; the folds are fitted in parallel, one per core."""
    folds = list(GroupKFold(n_splits=FOLDS).split(x, y, groups))
    parts = Parallel(n_jobs=-1)(delayed(_fold)(x, y, tr, te, c) for tr, te in folds)
    oof = np.zeros(len(y), dtype=np.float32)
    for (_, test_rows), part in zip(folds, parts, strict=True):
        oof[test_rows] = part
    return oof


@dataclass
class ClassFit:
    model: LogisticRegression
    c: float
    threshold: float
    f1: float
    oof: NDArray[Any]


def fit_class(x: Matrix, y: NDArray[Any], groups: NDArray[Any]) -> ClassFit:
    """The C and the threshold with the best out-of-fold F1, then one fit on every row."""
    best: tuple[float, float, float, NDArray[Any]] | None = None
    for c in C_GRID:
        oof = out_of_fold(x, y, groups, c)
        threshold, f1 = best_threshold(y, oof)
        if best is None or f1 > best[2]:
            best = (c, threshold, f1, oof)
    assert best is not None
    return ClassFit(_lr(best[0]).fit(x, y), *best)


def f1_at_half(y: NDArray[Any], score: NDArray[Any]) -> float:
    pred = score >= 0.5
    tp = float((pred & (y == 1)).sum())
    return 2 * tp / max(float(pred.sum()) + float((y == 1).sum()), 1.0)


def rules_add_value(y: NDArray[Any], fit: ClassFit, rule: NDArray[Any]) -> tuple[bool, float]:
    """Whether OR-ing the class's term-rule score into the model's (1 - (1-s)(1-r)) raises
    its out-of-fold F1, and by how much. Rules stay only where they measurably help."""
    model_only = to_score(fit.oof, np.full(len(y), fit.threshold, dtype=np.float32))
    combined = 1.0 - (1.0 - model_only) * (1.0 - rule)
    gain = f1_at_half(y, combined) - f1_at_half(y, model_only)
    return gain >= RULE_GAIN_MIN, round(gain, 4)


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


def fold_group(e: Example, row: int) -> str:
    """Rows that must share a fold: translations of one sentence, an article and its title."""
    return f"{e.source.removesuffix('-title')}:{e.group}" if e.group else f"row:{row}"


def fit_all(
    examples: list[Example], x: Matrix, spec: FeatureSpec, progress: Progress
) -> tuple[list[str], dict[str, Matrix], dict[str, Any]]:
    """Per learned class: (classes, arrays for ``TopicModel``, cross-validation figures)."""
    groups = np.array([fold_group(e, i) for i, e in enumerate(examples)])
    classes: list[str] = []
    cols: dict[str, list[Any]] = {"coef": [], "bias": [], "thresholds": [], "rules_or": []}
    cv: dict[str, Any] = {}
    for name in data.all_classes():
        rows = np.array([i for i, e in enumerate(examples) if name in e.labels], dtype=int)
        y = np.array([examples[i].labels[name] for i in rows], dtype=int)
        if rows.size == 0 or int(y.sum()) < MIN_POSITIVES or int(y.sum()) == len(y):
            progress(f"{name}: {int(y.sum())} positives, not learned (term rules only)")
            continue
        fit = fit_class(x[rows], y, groups[rows])
        rule_col = spec.rule_column(name)
        rule = x[rows, rule_col] / spec.rule_scale if rule_col is not None else np.zeros(len(y))
        keep_rules, gain = rules_add_value(y, fit, rule)
        classes.append(name)
        for key, value in (
            ("coef", fit.model.coef_[0]),
            ("bias", fit.model.intercept_[0]),
            ("thresholds", fit.threshold),
            ("rules_or", keep_rules),
        ):
            cols[key].append(value)
        cv[name] = {
            "positives": int(y.sum()),
            "negatives": int(len(y) - y.sum()),
            "C": fit.c,
            "threshold": fit.threshold,
            "oof_f1": round(fit.f1, 3),
            "rules_or_gain": gain,
            "rules_or": keep_rules,
        }
        progress(f"{name}: {cv[name]}")
    arrays = {
        k: np.array(v, dtype=bool if k == "rules_or" else np.float32) for k, v in cols.items()
    }
    return classes, arrays, cv


def title_views(examples: list[Example]) -> list[Example]:
    """A title-only copy of every training article that has a title: the stream meets bare
    headlines (feeds without text, pages whose body is mostly a headline), and the model should
    read them as well as full leads. Same group, so a fold never splits an article from it."""
    return [
        replace(e, text="", source=f"{e.source}-title")
        for e in examples
        if e.title.strip() and e.text.strip()
    ]


def load_training(corrections: Path | None) -> list[Example]:
    examples = [e for e in data.load_all() if not e.held_out]
    if TITLE_VIEWS:
        examples += title_views(examples)
    if corrections is not None:
        examples += list(data.load_corrections(corrections))
    return examples


def train(
    corrections: Path | None,
    out: Path,
    cache: Path | None = DEFAULT_CACHE,
    progress: Progress | None = None,
) -> dict[str, Any]:
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    examples = load_training(corrections)
    say(f"{len(examples)} training examples from {sorted({e.source for e in examples})}")
    x, spec = features_for(examples, cache, say)
    classes, arrays, cv = fit_all(examples, x, spec, say)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": ENCODER_NAME,
        "trained_on": dict(Counter(f"{e.source}/{e.language}" for e in examples)),
        "taxonomy_version": load_taxonomy().version,
        "command": "newsstream classify-train"
        + (f" --corrections {corrections.name}" if corrections else ""),
        "C_grid": list(C_GRID),
        "class_weight": CLASS_WEIGHT,
        "title_views": TITLE_VIEWS,
        "cv": cv,
        "seconds": round(time.perf_counter() - started, 1),
    }
    model = TopicModel(
        f"e5lr-{stamp}",
        classes,
        arrays["coef"],
        arrays["bias"],
        arrays["thresholds"],
        spec,
        meta,
        rules_or=arrays["rules_or"].astype(np.bool_),
    )
    model.save(out)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corrections", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    meta = train(
        args.corrections,
        args.out,
        None if args.no_cache else DEFAULT_CACHE,
        lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(meta)


if __name__ == "__main__":
    main()
