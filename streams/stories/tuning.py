"""How the weights of the text signals were chosen: on half A of the stories pairs only.

1. A logistic regression on half A's pairs over (cosine, name overlap, a figure in common)
   gives the scale: the cosine's weight in log-odds units (which the hand-set time, outlet and
   desk penalties share).
2. For each names and figures weight of a small grid, the centre (threshold) is moved so that
   every different-story pair of half A scores at most ``-MARGIN``: the aim is to keep >= 97 %
   of different stories apart, and half A has 33 of them, so 97 % allows none to be linked.
   The grid point linking the most same-story pairs of half A wins.

The embeddings-only baseline gets its threshold by the same rule on the cosine alone. Half B
is never looked at here; ``bench/stories.py`` reports both halves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streams.stories.assigner import StoryArticle, StoryAssigner
from streams.stories.features import char_grams, gram_cosine, jaccard, stems, text_signals
from streams.stories.quality import StoryPair
from streams.stories.scoring import Evidence, Vector, Weights, overlap

# Each signal at another weight than shipped: the names and figures weights of the logistic
# regression, the time penalty first tried (1.5 per doubling of days apart), and no outlet or
# desk penalty.
ABLATIONS = {"names": 3.6, "numbers": 0.25, "time": 1.5, "outlet": 0.0, "desk": 0.0}
TIME_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 1.5)
# Log-odds below 0 for the most similar different-story pair of half A: the smallest of
# MARGIN_GRID at which a centre chosen on 32 of A's 33 different-story pairs keeps the 33rd
# apart, for each of them (``margin_rule``, leave-one-out on half A; 0 links one of 33, since
# A's two most similar different pairs are 0.0001 of cosine apart). Part 1 used 0.25 by hand.
MARGIN_GRID = (0.0, 0.1, 0.25, 0.5, 1.0)
MARGIN = 0.1


def pair_evidence(
    pairs: Sequence[StoryPair], vectors: dict[int, tuple[Vector, Vector]]
) -> list[Evidence]:
    assigner = StoryAssigner()
    out = []
    for p in pairs:
        a, b = (
            assigner.member(StoryArticle(f"{k:032x}", url, title, text, p.language, 0.0, v))
            for k, ((url, title, text), v) in enumerate(
                zip((p.first, p.second), vectors[p.index], strict=True)
            )
        )
        out.append(assigner.evidence(b, a))
    return out


def _centre_for(weights: Weights, bad: Sequence[Evidence]) -> Weights:
    """The centre at which the highest-scoring different-story pair scores -MARGIN."""
    top = max(e.score(weights) for e in bad)
    return replace(weights, cos_centre=weights.cos_centre + (top + MARGIN) / weights.cos_weight)


def recentre(
    weights: Weights, pairs: Sequence[StoryPair], vectors: dict[int, tuple[Vector, Vector]]
) -> Weights:
    """``weights`` with the centre chosen by the rule on half A (for the baselines and each
    ablation, so that a row without a signal is not merely another threshold)."""
    ev = pair_evidence(pairs, vectors)
    bad = [e for e, p in zip(ev, pairs, strict=True) if p.half == "A" and not p.same]
    return _centre_for(weights, bad)


NAMES_GRID = (0.0, 1.0, 2.0, 3.0, 4.0)
NUMBERS_GRID = (0.0, 0.25, 0.5, 1.0)


def tune_weights(
    pairs: Sequence[StoryPair], vectors: dict[int, tuple[Vector, Vector]], *, verbose: bool = False
) -> Weights:
    """Step 1: the logistic regression's cosine weight (the scale of the log-odds). Step 2:
    the names and figures weights from a small grid, each with its centre by the rule, keeping
    the one that links the most same-story pairs of half A (ties: the smaller weights)."""
    from sklearn.linear_model import LogisticRegression

    ev = pair_evidence(pairs, vectors)
    train = [(e, p.same) for e, p in zip(ev, pairs, strict=True) if p.half == "A"]
    x = np.array([[e.cos, e.names, min(e.numbers, 1)] for e, _ in train])
    y = np.array([same for _, same in train])
    fit = LogisticRegression(C=100.0, max_iter=1000).fit(x, y)
    cos_w, names_w, numbers_w = (float(c) for c in fit.coef_[0])
    if verbose:
        print(
            f"logistic regression on half A ({len(train)} pairs): cos {cos_w:.1f}, "
            f"names {names_w:.2f}, numbers {numbers_w:.2f}, intercept {fit.intercept_[0]:.1f}"
        )
    bad = [e for e, same in train if not same]
    good = [e for e, same in train if same]
    best: tuple[int, float, float, Weights] | None = None
    for names in NAMES_GRID:
        for numbers in NUMBERS_GRID:
            w = _centre_for(
                replace(Weights(), cos_weight=round(cos_w), names_weight=names,
                        numbers_weight=numbers, cos_centre=0.9),
                bad,
            )  # fmt: skip
            linked = sum(e.score(w) >= 0 for e in good)
            if verbose:
                print(f"  names {names}, numbers {numbers}: centre {w.cos_centre:.3f}, "
                      f"half A same-story linked {linked}/{len(good)}")  # fmt: skip
            rank = (-linked, names, numbers, w)
            if best is None or rank[:3] < best[:3]:
                best = rank
    assert best is not None
    return best[3]


def cos_auc(
    pairs: Sequence[StoryPair], vectors: dict[int, tuple[Vector, Vector]]
) -> dict[str, float]:
    """Per half: the chance that a same-story pair has a higher cosine than a different-story
    pair (ROC AUC of the cosine alone)."""
    from sklearn.metrics import roc_auc_score

    out = {}
    for half in "AB":
        rows = [(float(np.dot(*vectors[p.index])), p.same) for p in pairs if p.half == half]
        out[half] = float(roc_auc_score([s for _, s in rows], [c for c, _ in rows]))
    return out


# --- Text evidence beyond the cosine: a logistic model per feature set, chosen on half A ---

Array = NDArray[np.float64]
# Feature sets compared by leave-one-out on half A (``compare_evidence``); the first is the
# shipped score's text signal.
FEATURE_SETS: tuple[tuple[str, ...], ...] = (
    ("cos",),
    ("cos", "names"),
    ("cos", "figures"),
    ("cos", "grams"),
    ("cos", "stems"),
    ("cos", "title_stems"),
    ("cos", "names", "figures"),
    ("cos", "grams", "names", "figures"),
    ("headline_cos", "lead_cos"),
    ("headline_cos", "lead_cos", "grams"),
)


def text_evidence(pairs: Sequence[StoryPair]) -> dict[str, Array]:
    """Per pair: name overlap, a figure in common, character 4-gram cosine and stem Jaccard
    of title + lead, stem Jaccard of the titles alone."""
    cols: dict[str, list[float]] = {k: [] for k in ("names", "figures", "grams", "stems",
                                                    "title_stems")}  # fmt: skip
    for p in pairs:
        (_, t1, x1), (_, t2, x2) = p.first, p.second
        s1, s2 = text_signals(t1, x1), text_signals(t2, x2)
        cols["names"].append(overlap(s1.names, s2.names))
        cols["figures"].append(float(bool(s1.numbers & s2.numbers)))
        cols["grams"].append(gram_cosine(char_grams(t1, x1), char_grams(t2, x2)))
        cols["stems"].append(jaccard(stems(t1, x1), stems(t2, x2)))
        cols["title_stems"].append(jaccard(stems(t1, ""), stems(t2, "")))
    return {k: np.array(v) for k, v in cols.items()}


def linked_without_false_link(scores: Array, same: NDArray[np.bool_]) -> int:
    """Same-story pairs scoring above every different-story pair (the tuning rule's best)."""
    return int(np.sum(scores[same] > scores[~same].max()))


def _fit(x: Array, y: NDArray[np.bool_]) -> Any:
    from sklearn.linear_model import LogisticRegression

    # Nearly unregularised, as step 1 above: the features are few and on comparable scales.
    return LogisticRegression(C=100.0, max_iter=5000).fit(x, y)


def loo_scores(x: Array, y: NDArray[np.bool_]) -> Array:
    """Each pair's log-odds from a model fitted on all other pairs (leave-one-out)."""
    out = np.zeros(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        out[i] = _fit(x[keep], y[keep]).decision_function(x[i : i + 1])[0]
    return out


@dataclass(frozen=True)
class EvidenceRow:
    features: tuple[str, ...]
    loo_auc_a: float
    loo_linked_a: int  # of half A's same-story pairs, with no different-story pair linked
    auc_b: float
    linked_b: float  # at half A's rule: the most similar different pair of A at -MARGIN
    apart_b: float
    coef: tuple[float, ...]


def compare_evidence(pairs: Sequence[StoryPair], features: dict[str, Array]) -> list[EvidenceRow]:
    """Each of ``FEATURE_SETS`` as a logistic model: chosen by its leave-one-out figures on
    half A; half B scored by the model fitted on all of A, thresholded by the tuning rule."""
    from sklearn.metrics import roc_auc_score

    y = np.array([p.same for p in pairs])
    a = np.array([p.half == "A" for p in pairs])
    rows = []
    for names in FEATURE_SETS:
        x = np.column_stack([features[n] for n in names])
        loo = loo_scores(x[a], y[a])
        fit = _fit(x[a], y[a])
        cut = fit.decision_function(x[a][~y[a]]).max() + MARGIN
        sb, yb = fit.decision_function(x[~a]), y[~a]
        rows.append(EvidenceRow(
            names, float(roc_auc_score(y[a], loo)), linked_without_false_link(loo, y[a]),
            float(roc_auc_score(yb, sb)), float(np.mean(sb[yb] >= cut)),
            float(np.mean(sb[~yb] < cut)), tuple(round(float(c), 1) for c in fit.coef_[0]),
        ))  # fmt: skip
    return rows


def margin_rule(
    pairs: Sequence[StoryPair], cos: Array, margins: Sequence[float]
) -> list[tuple[float, int, int, float, float]]:
    """Per margin (log-odds at the cosine weight): half A's different-story pairs that a
    centre chosen on the other 32 would link (leave-one-out), half A's same-story pairs
    linked, half B linked / kept apart. Expected share of new different pairs above the
    maximum of n: 1 / (n + 1), 2.9 % at n = 33, when the margin is 0."""
    y = np.array([p.same for p in pairs])
    a = np.array([p.half == "A" for p in pairs])
    bad = np.sort(cos[a & ~y])
    out = []
    for m in margins:
        step = m / Weights().cos_weight
        loo_false = int(bad[-1] >= bad[-2] + step)  # only the top one can exceed the rest
        centre = bad[-1] + step
        out.append((m, loo_false, int(np.sum(cos[a & y] >= centre)),
                    float(np.mean(cos[~a & y] >= centre)),
                    float(np.mean(cos[~a & ~y] < centre))))  # fmt: skip
    return out
