"""Names weighed on a larger training set than the pairs: Wikipedia event pairs.

Half A of the stories pairs (57 pairs) is small for weighing a second signal beside the
cosine: every name term fitted there lowered its leave-one-out figures (docs/stories.md,
"Text evidence"). The Wikipedia storylines give a training set hundreds of times larger: every
two events of half A (by date) at most ``PAIR_DAYS`` apart, the same story when the editors
gave both the same path. Names are weighed by rarity (IDF), which a pair alone cannot give:
the document frequencies of the name keys come from background articles and sentences in uk,
ru and en that are in neither evaluation set (``background``). A logistic model over (cosine,
IDF-weighted name overlap) fitted on those events is judged on the events of half B, then
carried unchanged to the stories pairs, where only its threshold comes from half A's rule.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from numpy.typing import NDArray

from streams.classify.encoder import Matrix
from streams.stories.features import name_keys
from streams.stories.quality import Event, StoryPair
from streams.stories.scoring import DAY_S, Vector
from streams.stories.tuning import MARGIN

PAIR_DAYS = 1.0  # one day and the next: mostly one episode of a storyline
BACKGROUND = ("ria", "lenta-crime", "tgcontest", "sib200")  # topics/*.jsonl
Array = NDArray[np.float64]
Rates = dict[str, tuple[float, float]]  # per half: same-story linked, different kept apart


class NameIdf:
    """Inverse document frequency of name keys over a background of (title, text)."""

    def __init__(self, docs: Iterable[tuple[str, str]]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for title, text in docs:
            self.df.update(name_keys(title, text))
            self.n += 1

    def weight(self, key: str) -> float:
        return math.log((self.n + 1) / (self.df[key] + 1))

    def overlap(self, a: frozenset[str], b: frozenset[str]) -> float:
        """IDF mass of the shared keys over the smaller side's (0 when either has none)."""
        side = min(sum(map(self.weight, a)), sum(map(self.weight, b)))
        return sum(map(self.weight, a & b)) / side if side > 0 else 0.0


def background(root: Path) -> list[tuple[str, str]]:
    """(title, text) of the shared data's labelled articles and sentences that neither
    evaluation set holds: ria.ru and Lenta.ru (ru), the tgcontest articles (ru, en), the
    SIB-200 sentences (uk, ru, en)."""
    docs = []
    for name in BACKGROUND:
        with (root / "topics" / f"{name}.jsonl").open("rb") as f:
            docs += [(r.get("title", ""), r["text"]) for r in map(orjson.loads, f)]
    return docs


def event_pairs(
    events: Sequence[Event], vectors: Matrix, idf: NameIdf, half: str
) -> tuple[Array, NDArray[np.bool_]]:
    """(cosine, name overlap) and same path, for every two events of ``half`` at most
    ``PAIR_DAYS`` apart (``events`` in date order, as ``load_events`` gives them)."""
    ix = [i for i, e in enumerate(events) if e.half == half]
    names = {i: name_keys(events[i].text, "") for i in ix}
    x, y = [], []
    for n, i in enumerate(ix):
        for j in ix[n + 1 :]:
            if events[j].time - events[i].time > PAIR_DAYS * DAY_S:
                break
            x.append((float(vectors[i] @ vectors[j]), idf.overlap(names[i], names[j])))
            y.append(bool(events[i].story) and events[i].story == events[j].story)
    return np.array(x), np.array(y, dtype=bool)


@dataclass(frozen=True)
class Transfer:
    cos_weight: float  # the model fitted on half A of the events
    names_weight: float
    train_pairs: int
    train_same: int
    events_auc_b: tuple[float, float]  # half B of the events: cosine alone, cosine + names
    pairs_auc: dict[str, tuple[float, float]]  # per half of the stories pairs, the same two
    cos_rates: Rates  # the stories pairs at half A's rule, the cosine alone
    names_rates: Rates  # the same, cosine + names


def transfer(
    events: Sequence[Event],
    event_vectors: Matrix,
    pairs: Sequence[StoryPair],
    pair_vectors: dict[int, tuple[Vector, Vector]],
    idf: NameIdf,
) -> Transfer:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    xa, ya = event_pairs(events, event_vectors, idf, "A")
    xb, yb = event_pairs(events, event_vectors, idf, "B")
    fit = LogisticRegression(C=100.0, max_iter=2000).fit(xa, ya)
    w = fit.coef_[0].astype(np.float64)
    x = np.array([_pair_features(p, pair_vectors[p.index], idf) for p in pairs])
    same = np.array([p.same for p in pairs])
    a = np.array([p.half == "A" for p in pairs])
    cos_only, with_names = x[:, 0] * w[0], x @ w
    auc = {
        h: (float(roc_auc_score(same[m], cos_only[m])),
            float(roc_auc_score(same[m], with_names[m])))
        for h, m in (("A", a), ("B", ~a))
    }  # fmt: skip
    events_b = (float(roc_auc_score(yb, xb[:, 0])), float(roc_auc_score(yb, xb @ w)))
    return Transfer(float(w[0]), float(w[1]), len(ya), int(ya.sum()), events_b, auc,
                    rule_rates(cos_only, same, a), rule_rates(with_names, same, a))  # fmt: skip


def _pair_features(p: StoryPair, v: tuple[Vector, Vector], idf: NameIdf) -> tuple[float, float]:
    cos = float(np.dot(v[0].astype(np.float32), v[1].astype(np.float32)))
    a, b = name_keys(p.first[1], p.first[2]), name_keys(p.second[1], p.second[2])
    return cos, idf.overlap(a, b)


def rule_rates(score: Array, same: NDArray[np.bool_], a: NDArray[np.bool_]) -> Rates:
    """Linked / kept apart per half when half A's most similar different pair sits at
    -MARGIN log-odds (the tuning rule)."""
    cut = score[a & ~same].max() + MARGIN
    return {
        h: (float(np.mean(score[m & same] >= cut)), float(np.mean(score[m & ~same] < cut)))
        for h, m in (("A", a), ("B", ~a))
    }
