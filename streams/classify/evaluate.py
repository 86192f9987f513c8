"""Evaluation on the held-out splits: per language, per label precision/recall/F1 and a
confusion matrix, printed and drawn as a PNG (``newsstream classify-eval``, bench/classify.py).

Each set is scored in its own label space, so the figures compare with published baselines:
a prediction is the set's label whose desk topics (see ``EVAL_MAP``) score highest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from streams.classify.classifier import Classification, Classifier, Item
from streams.classify.data import SHARED_DATA, WIKI_DESKS, Example, load_all

# set -> its label -> the desk topics / model classes that stand for it
EVAL_MAP: dict[str, dict[str, tuple[str, ...]]] = {
    "sib200": {
        "politics": ("politics", "diplomacy", "war"),
        "science/technology": ("technology",),
        "sports": ("sport",),
        "health": ("health",),
        "entertainment": ("culture",),
        "travel": ("x-travel",),
        "geography": ("x-geography",),
    },
    "news": {  # tgcontest exam + ria part9, in tgcontest's label space
        "society": (
            "society",
            "politics",
            "diplomacy",
            "war",
            "crime",
            "emergencies",
            "humanitarian",
        ),
        "economy": ("economy", "infrastructure"),
        "sports": ("sport",),
        "entertainment": ("culture",),
        "science/technology": ("technology", "health"),
        "other": ("x-other", "x-travel", "x-geography"),
    },
}
_NEWS_TRUTH = {
    "science": "science/technology",
    "technology": "science/technology",
    "not_news": "other",
    "culture": "entertainment",
    "sports": "sports",
}


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
        rows += [
            f"{lab:<20}{p:7.3f}{r:7.3f}{f:7.3f}{n:5d}"
            for lab, p, r, f, n in zip(
                self.labels, self.precision, self.recall, self.f1, self.support, strict=True
            )
        ]
        short = [lab[:5] for lab in self.labels]
        rows.append("confusion (rows truth, columns predicted): " + " ".join(short))
        rows += [
            f"{lab[:18]:<20}" + " ".join(f"{v:5d}" for v in row)
            for lab, row in zip(self.labels, self.confusion, strict=True)
        ]
        return "\n".join([head, *rows])


def predict_label(c: Classification, space: dict[str, tuple[str, ...]]) -> str:
    scores = c.scores | c.other
    return max(space, key=lambda lab: max(scores.get(t, 0.0) for t in space[lab]))


def truth_label(e: Example) -> str:
    if e.source == "sib200":
        return e.source_label
    return _NEWS_TRUTH.get(e.source_label, e.source_label)


def report(
    name: str, lang: str, truth: Sequence[str], pred: Sequence[str], labels: list[str]
) -> Report:
    p, r, f, n = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    cm = confusion_matrix(truth, pred, labels=labels)
    return Report(name, lang, labels, p.tolist(), r.tolist(), f.tolist(), n.tolist(), cm.tolist())


# The desks the mission names and the English event reports label (the aim: macro-F1 >= 0.80).
EVENT_DESKS = ("diplomacy", "crime", "war", "emergencies")


def held_out_results(
    classifier: Classifier, examples: list[Example] | None = None
) -> tuple[list[Example], list[Classification]]:
    held = [e for e in (examples if examples is not None else load_all()) if e.held_out]
    return held, classifier.classify_many([Item(e.title, e.text, e.language) for e in held])


def evaluate(
    classifier: Classifier,
    examples: list[Example] | None = None,
    results: tuple[list[Example], list[Classification]] | None = None,
) -> list[Report]:
    """Single-label reports, each set in its own label space: SIB-200 dev, the news sets'
    held-out parts, and the Wikipedia events of the held-out months (top desk among the ten
    desks Wikipedia labels, and among the four event desks on those desks' events only)."""
    held, found = results or held_out_results(classifier, examples)
    reports = []
    for name, sources in (("sib200-dev", {"sib200"}), ("news-heldout", {"tgcontest", "ria"})):
        space = EVAL_MAP["sib200" if name.startswith("sib") else "news"]
        for lang in ("uk", "ru", "en"):
            pairs = [
                (truth_label(e), predict_label(c, space))
                for e, c in zip(held, found, strict=True)
                if e.source in sources and e.language == lang
            ]
            if pairs:
                truth, pred = zip(*pairs, strict=True)
                reports.append(report(name, lang, truth, pred, list(space)))
    for name, desks in (("wiki-desks", WIKI_DESKS), ("wiki-event-desks", EVENT_DESKS)):
        space = {d: (d,) for d in desks}
        pairs = [
            (e.source_label, predict_label(c, space))
            for e, c in zip(held, found, strict=True)
            if e.source == "wikipedia" and e.source_label in desks
        ]
        if pairs:
            truth, pred = zip(*pairs, strict=True)
            reports.append(report(name, "en", truth, pred, list(desks)))
    return reports


@dataclass
class DeskFigures:
    """Multi-label figures of one desk on one set and language: assigned (score >= threshold)
    against the set's known labels for that desk."""

    source: str
    language: str
    desk: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"{self.source:<18}{self.language:<5}{self.desk:<16}{self.precision:7.3f}"
            f"{self.recall:7.3f}{self.f1:7.3f}{self.tp + self.fn:6d}"
        )


def desk_figures(held: list[Example], found: list[Classification]) -> list[DeskFigures]:
    """Per set, language and desk, wherever the held-out set has positives for the desk."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for e, c in zip(held, found, strict=True):
        for desk, truth in e.labels.items():
            if desk.startswith("x-"):
                continue
            tally = counts.setdefault((e.source, e.language or "?", desk), [0, 0, 0])
            said = desk in c.topics
            tally[0] += int(said and truth == 1)
            tally[1] += int(said and truth == 0)
            tally[2] += int(not said and truth == 1)
    return [
        DeskFigures(s, lang, d, *v) for (s, lang, d), v in sorted(counts.items()) if v[0] + v[2] > 0
    ]


def desk_table(figures: list[DeskFigures]) -> str:
    head = f"{'set':<18}{'lang':<5}{'desk':<16}{'P':>7}{'R':>7}{'F1':>7}{'n+':>6}"
    return "\n".join([head, *(f.line() for f in figures)])


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


SAMPLE_PAGE = SHARED_DATA / "samples" / "lenta-ua-article.txt"
# The desks a news editor would accept as the top desk of each headline of the sample page
# (our judgment, written down before measuring; the first desk is the preferred one).
SAMPLE_DESKS: dict[str, tuple[str, ...]] = {
    "Влада РФ відмовилася": ("diplomacy",),
    "Росія відмовилася йти на компроміс": ("diplomacy",),
    "Канцлер Німеччини назвав": ("diplomacy", "war"),
    "Ще одне місто з'єднають": ("infrastructure",),
    "В Одесі дівчина викинула": ("crime",),
    "СБУ ліквідувала банду": ("crime",),
    "Найбільш інвестиційно привабливі": ("economy", "infrastructure"),
    "Посол ЄС стверджує": ("war", "diplomacy"),
    "В Україну з Хорватії": ("humanitarian",),
    "Поліцейський застрелився": ("crime", "emergencies"),
    "Орбан хоче розділити": ("diplomacy", "politics"),
    "У Києві завершили аварійно-рятувальні": ("emergencies",),
    "Вечір Малевича": ("culture",),
}
_TIME_LINE = re.compile(r"^\d\d:\d\d \d\d ")


def sample_items(path: Path = SAMPLE_PAGE) -> list[Item]:
    """The sample page's 13 headlines: the article (with its text), the two "Читайте також"
    links and the ten sidebar headlines (each followed by a time line), title only."""
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    items = [Item(lines[0], "\n".join(lines[1:]))]
    items += [
        Item(line.split(":", 1)[1].strip(), "")
        for line in lines
        if line.startswith("Читайте також:")
    ]
    items += [Item(lines[i - 1], "") for i, line in enumerate(lines) if _TIME_LINE.match(line)]
    return items


def expected_desks(headline: str) -> tuple[str, ...]:
    return next((v for k, v in SAMPLE_DESKS.items() if headline.startswith(k)), ())


def sample_headlines(classifier: Classifier) -> list[str]:
    """One line per headline: right or wrong, the top desk, what was expected, the headline."""
    items = sample_items()
    found = classifier.classify_many(items)
    right = sum(c.top in expected_desks(it.title) for it, c in zip(items, found, strict=True))
    out = [f"sample page headlines: {right}/{len(items)} with an acceptable top desk"]
    for it, c in zip(items, found, strict=True):
        want = expected_desks(it.title)
        mark = "ok  " if c.top in want else "MISS"
        out.append(f"{mark} {c.top or '-':<14} want {'/'.join(want):<24} {it.title[:70]}")
    return out
