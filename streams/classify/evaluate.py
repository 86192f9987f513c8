"""Evaluation on the held-out splits: per language, per label precision/recall/F1 and a
confusion matrix, printed and drawn as a PNG (``newsstream classify-eval``, bench/classify.py).

Each set is scored in its own label space, so the figures compare with published baselines:
a prediction is the set's label whose desk topics (see ``EVAL_MAP``) score highest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from streams.classify.classifier import Classification, Classifier
from streams.classify.data import Example, load_all

# set -> its label -> the desk topics / model classes that stand for it
EVAL_MAP: dict[str, dict[str, tuple[str, ...]]] = {
    "sib200": {
        "politics": ("politics", "diplomacy", "war"), "science/technology": ("technology",),
        "sports": ("sport",), "health": ("health",), "entertainment": ("culture",),
        "travel": ("x-travel",), "geography": ("x-geography",),
    },
    "news": {  # tgcontest exam + ria part9, in tgcontest's label space
        "society": ("society", "politics", "diplomacy", "war", "crime", "emergencies",
                    "humanitarian"),
        "economy": ("economy", "infrastructure"), "sports": ("sport",),
        "entertainment": ("culture",), "science/technology": ("technology", "health"),
        "other": ("x-other", "x-travel", "x-geography"),
    },
}
_NEWS_TRUTH = {"science": "science/technology", "technology": "science/technology",
               "not_news": "other", "culture": "entertainment", "sports": "sports"}


@dataclass
class Report:
    name: str
    language: str
    labels: list[str]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    confusion: list[list[int]]

    @property
    def macro_f1(self) -> float:
        present = [f for f, s in zip(self.f1, self.support, strict=True) if s > 0]
        return float(np.mean(present)) if present else 0.0

    def text(self) -> str:
        n = sum(self.support)
        head = f"== {self.name} [{self.language}] macro-F1 {self.macro_f1:.3f} (n={n})"
        rows = [f"{'label':<20}{'P':>7}{'R':>7}{'F1':>7}{'n':>5}"]
        rows += [f"{lab:<20}{p:7.3f}{r:7.3f}{f:7.3f}{n:5d}" for lab, p, r, f, n in
                 zip(self.labels, self.precision, self.recall, self.f1, self.support, strict=True)]
        short = [lab[:5] for lab in self.labels]
        rows.append("confusion (rows truth, columns predicted): " + " ".join(short))
        rows += [f"{lab[:18]:<20}" + " ".join(f"{v:5d}" for v in row)
                 for lab, row in zip(self.labels, self.confusion, strict=True)]
        return "\n".join([head, *rows])


def predict_label(c: Classification, space: dict[str, tuple[str, ...]]) -> str:
    scores = c.scores | c.other
    return max(space, key=lambda lab: max(scores.get(t, 0.0) for t in space[lab]))


def truth_label(e: Example) -> str:
    if e.source == "sib200":
        return e.source_label
    return _NEWS_TRUTH.get(e.source_label, e.source_label)


def report(name: str, lang: str, truth: Sequence[str], pred: Sequence[str],
           labels: list[str]) -> Report:
    p, r, f, n = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    cm = confusion_matrix(truth, pred, labels=labels)
    return Report(name, lang, labels, p.tolist(), r.tolist(), f.tolist(), n.tolist(), cm.tolist())


def evaluate(classifier: Classifier, examples: list[Example] | None = None) -> list[Report]:
    held = [e for e in (examples if examples is not None else load_all()) if e.held_out]
    results = classifier.classify_many([(e.title, e.text, e.language) for e in held])
    reports = []
    for name, sources in (("sib200-dev", {"sib200"}), ("news-heldout", {"tgcontest", "ria"})):
        space = EVAL_MAP["sib200" if name.startswith("sib") else "news"]
        for lang in ("uk", "ru", "en"):
            pairs = [(truth_label(e), predict_label(c, space))
                     for e, c in zip(held, results, strict=True)
                     if e.source in sources and e.language == lang]
            if pairs:
                truth, pred = zip(*pairs, strict=True)
                reports.append(report(name, lang, truth, pred, list(space)))
    return reports


def plot(reports: list[Report], path: Path) -> Path | None:
    """One confusion-matrix panel per report; None when matplotlib is not installed."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, len(reports), figsize=(4.2 * len(reports), 4.6), squeeze=False)
    for ax, rep in zip(axes[0], reports, strict=True):
        ax.imshow(np.array(rep.confusion), cmap="Blues")
        ticks = range(len(rep.labels))
        ax.set_xticks(ticks, [lab[:8] for lab in rep.labels], rotation=60, fontsize=7)
        ax.set_yticks(ticks, [lab[:8] for lab in rep.labels], fontsize=7)
        for (i, j), v in np.ndenumerate(np.array(rep.confusion)):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=6)
        ax.set_title(f"{rep.name} {rep.language}\nmacro-F1 {rep.macro_f1:.2f}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
