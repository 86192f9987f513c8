"""Reproducible training: ``newsstream classify-train`` or ``python -m streams.classify.train``.

Fits the model on the training splits plus stored corrections and writes ``model/topics.npz``.
The embedding block's weight per language is chosen by cross-validation on the training split
only (the held-out splits stay unseen until ``classify-eval``). Ukrainian reaches the encoder as
Russian lemmas through a uk->ru lexicon learned from the parallel SIB-200 training sentences
(``lexicon.py``); in cross-validation each fold learns its lexicon from its training part only.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from streams.classify import data, features, lexicon
from streams.classify.data import Example
from streams.classify.model import DEFAULT_MODEL, FeatureSpec, TopicModel
from streams.classify.rules import TermRules
from streams.classify.taxonomy import load_taxonomy

C = 10.0  # inverse L2 strength; char n-gram TF-IDF + LR baselines peak around 10-30
RULE_SCALE = 1.0
# 0 means "no embedding" for that language: the encoder may not help a language it was not
# trained on (Ukrainian), and cross-validation decides.
EMBED_GRID = (0.0, 0.3, 0.5, 0.7)
SEED = 13


def _lr() -> LogisticRegression:
    # Balanced class weights: +0.04 ru, +0.02 uk macro-F1 in cross-validation on the train split.
    return LogisticRegression(C=C, max_iter=3000, random_state=SEED, class_weight="balanced")


def _macro_f1_by_language(
    pred: NDArray[Any], y: list[str], langs: list[str | None]
) -> dict[str, float]:
    truth, lang_arr = np.array(y), np.array([lang or "" for lang in langs])
    out = {"*": float(f1_score(truth, pred, average="macro"))}
    for lang in sorted(set(lang_arr)):
        rows = lang_arr == lang
        out[str(lang)] = float(f1_score(truth[rows], pred[rows], average="macro"))
    return out


def _best(scores: dict[float, dict[str, float]], lang: str) -> float:
    return max(EMBED_GRID, key=lambda s: scores[s][lang])


def choose_embed_scale(
    build: Any, embed: Any, y: list[str], langs: list[str | None], groups: list[str]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per language, the embedding weight whose model scores best out of fold. Folds keep a
    sentence's translations together: otherwise the embedding of its Russian twin in the
    training fold makes the embedding look better than it is. ``embed(train_rows)`` gives the
    embeddings with a lexicon learned from those rows only."""
    folds = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=SEED)
    y_arr = np.array(y)
    preds = {s: np.empty(len(y), dtype=object) for s in EMBED_GRID}
    for train_rows, test_rows in folds.split(np.zeros(len(y)), y, groups):
        emb = embed(set(train_rows.tolist()))
        for s in EMBED_GRID:
            x = build({"*": s}, emb)
            preds[s][test_rows] = _lr().fit(x[train_rows], y_arr[train_rows]).predict(x[test_rows])
    scores = {s: _macro_f1_by_language(preds[s], y, langs) for s in EMBED_GRID}
    chosen = {lang: _best(scores, lang) for lang in scores[EMBED_GRID[0]]}
    return chosen, {str(s): v for s, v in scores.items()}


def parallel_pairs(examples: list[Example]) -> list[tuple[int, int]]:
    """(uk row, ru row) of each SIB-200 sentence present in both languages."""
    by_group: dict[str, dict[str | None, int]] = {}
    for i, e in enumerate(examples):
        if e.source == "sib200" and e.group:
            by_group.setdefault(e.group, {})[e.language] = i
    return [(m["uk"], m["ru"]) for _, m in sorted(by_group.items()) if "uk" in m and "ru" in m]


def load_training(corrections: Path | None) -> list[Example]:
    examples = [e for e in data.load_all() if not e.held_out]
    if corrections is not None:
        examples += list(data.load_corrections(corrections))
    return examples


def train(corrections: Path | None, out: Path, use_embeddings: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    examples = load_training(corrections)
    taxonomy = load_taxonomy()
    rules = TermRules(taxonomy)
    titles, texts = [e.title for e in examples], [e.text for e in examples]
    langs, y = [e.language for e in examples], [e.label for e in examples]
    rule_scores = [rules.score(e.title, e.text, e.language).scores for e in examples]
    idf = features.fit_idf(features.counts(
        [features.model_text(h, t, lang) for h, t, lang in zip(titles, texts, langs, strict=True)]))
    use_embeddings = use_embeddings and features.Embedder.available()
    raw = [f"{h}. {t}" for h, t in zip(titles, texts, strict=True)]
    emb = features.Embedder.encode(raw, langs) if use_embeddings else None
    pairs = parallel_pairs(examples)
    uk_rows = [i for i, lang in enumerate(langs) if lang == "uk"]

    def embed(rows: set[int] | None) -> Any:
        """Embeddings with Ukrainian put into Russian by a lexicon learned from ``rows``."""
        table = lexicon.build_table((texts[u], texts[r]) for u, r in pairs
                                    if rows is None or u in rows)
        out = np.array(emb, copy=True)
        if uk_rows and table:
            out[uk_rows] = features.Embedder.encode([raw[i] for i in uk_rows],
                                                    [langs[i] for i in uk_rows], table)
        return out, table

    def build(scale: dict[str, float], emb_table: Any) -> Any:
        spec = FeatureSpec(scale, tuple(taxonomy.topic_names()), RULE_SCALE)
        return spec.matrix(idf, titles, texts, langs, rule_scores, embeddings=emb_table[0])

    groups = [e.group or f"{e.source}:{i}" for i, e in enumerate(examples)]
    use_lexicon = emb is not None and lexicon.available()
    if emb is not None:
        chosen, cv = choose_embed_scale(
            build, embed if use_lexicon else (lambda _rows: (emb, {})), y, langs, groups)
        full = embed(None) if use_lexicon else (emb, {})
    else:
        chosen, cv, full = {"*": 0.0}, {}, (None, {})
    final = _lr().fit(build(chosen, full), y)
    spec = FeatureSpec(chosen, tuple(taxonomy.topic_names()), RULE_SCALE, uk_lexicon=full[1])
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    model = TopicModel(
        version=f"lr-char-use-lex-rules-{stamp}", classes=[str(c) for c in final.classes_], idf=idf,
        coef=final.coef_.astype(np.float32), bias=final.intercept_.astype(np.float32), spec=spec,
    )
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trained_on": dict(Counter(f"{e.source}/{e.language}" for e in examples)),
        "labels": dict(Counter(y)),
        "taxonomy_version": taxonomy.version,
        "command": "newsstream classify-train"
        + (f" --corrections {corrections.name}" if corrections else "")
        + ("" if use_embeddings else " --no-embeddings"),
        "cv_macro_f1_by_embed_scale": cv,
        "uk_lexicon_entries": len(full[1]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    model.save(out, meta)
    return meta | {"embed_scale": chosen, "classes": model.classes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corrections", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--no-embeddings", action="store_true")
    args = parser.parse_args(argv)
    meta = train(args.corrections, args.out, use_embeddings=not args.no_embeddings)
    print(meta)


if __name__ == "__main__":
    main()
