"""The classifier: the desk model, the term rules and the publisher's rubric, combined.

Per class the model gives a probability from the sentence embedding of title + lead and the
term-rule scores (the rules are model inputs, so the model learns how far to trust each one).
When the article's rubric has a learned prior (``rubrics.py``), the class's log-odds move by
what the rubric says beyond its source, weighted by the evidence behind it. The probability becomes
a desk score with the class's calibrated threshold at 0.5 (``model.to_score``). Topics the
model has not learned (an operator's new taxonomy entry) are scored by their term rules alone.
A child topic lifts its parent (crime -> society) to ``parent_share`` of its score, and the
assigned topics are listed most specific first: a child before its parent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streams.classify.model import TopicModel, load_model, to_score
from streams.classify.rules import RuleResult, TermRules
from streams.classify.taxonomy import Taxonomy, load_taxonomy
from streams.clean.language import detect_language

# Languages with term rules and training data; others get the model only and say so.
SUPPORTED = ("uk", "ru", "en")
# Without rules the model is the only evidence; keep such articles nearer the review line.
_UNSUPPORTED_DISCOUNT = 0.8


# A rubric moves a class's log-odds by at most this much (a factor of e^3 = 20 on the odds).
_MAX_RUBRIC_SHIFT = 3.0


@dataclass(frozen=True)
class RubricPrior:
    """What the publisher's section says, as learned from the stream (``rubrics.py``)."""

    name: str
    weight: float  # 0..1, how far the evidence behind the rubric is trusted
    proba: Mapping[str, float]  # class -> mean probability among articles of this rubric
    base: Mapping[str, float]  # class -> mean probability among all articles of the source

    def shift(self, classes: Sequence[str]) -> np.ndarray[Any, Any]:
        """Per class, the log-odds the rubric adds: weight × (logit(rubric) − logit(source)).
        A rubric whose articles look like the rest of the source's adds nothing."""

        def logit(p: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            q = np.clip(p, 0.01, 0.99)
            return np.asarray(np.log(q / (1 - q)))

        rub = np.array([self.proba.get(c, 0.0) for c in classes])
        base = np.array([self.base.get(c, 0.0) for c in classes])
        lift = self.weight * (logit(rub) - logit(base))
        return np.asarray(np.clip(lift, -_MAX_RUBRIC_SHIFT, _MAX_RUBRIC_SHIFT))


@dataclass(frozen=True)
class Classification:
    topics: tuple[str, ...]
    scores: dict[str, float]
    iptc: tuple[str, ...]
    evidence: dict[str, list[str]]
    classifier_version: str
    language: str | None = None
    language_supported: bool = True
    # model classes that are not desk topics (x-travel, x-other ...), for evaluation
    other: dict[str, float] = field(default_factory=dict)
    # the model's probabilities from the text alone (what the rubric book learns from)
    text_proba: dict[str, float] = field(default_factory=dict)

    @property
    def top(self) -> str | None:
        """The desk this article belongs to most: the first assigned topic, or for an
        article under every threshold (a bare headline, say) the best-scoring desk."""
        if self.topics:
            return self.topics[0]
        return max(self.scores, key=lambda t: self.scores[t]) if self.scores else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "topics": list(self.topics),
            "scores": self.scores,
            "iptc": list(self.iptc),
            "evidence": self.evidence,
            "classifier_version": self.classifier_version,
            "language": self.language,
            "language_supported": self.language_supported,
        }


@dataclass(frozen=True)
class Item:
    title: str
    text: str
    language: str | None = None
    rubric: RubricPrior | None = None


class Classifier:
    def __init__(self, taxonomy: Taxonomy, model: TopicModel | None) -> None:
        self.taxonomy = taxonomy
        self.model = model
        self.rules = TermRules(taxonomy)
        model_version = model.version if model else "rules-only"
        self.version = f"taxonomy-{taxonomy.version}+{model_version}"

    @classmethod
    def from_files(cls, taxonomy: Path | None = None, model: Path | None = None) -> Classifier:
        return cls(load_taxonomy(taxonomy), load_model(model))

    def classify(
        self, title: str, text: str, language: str | None = None, rubric: RubricPrior | None = None
    ) -> Classification:
        return self.classify_many([Item(title, text, language, rubric)])[0]

    def classify_many(self, items: Sequence[Item]) -> list[Classification]:
        """Batch form: the encoder reads all items at once."""
        langs = [it.language or detect_language(f"{it.title}\n{it.text}") for it in items]
        rules = [
            self.rules.score(it.title, it.text, lang) for it, lang in zip(items, langs, strict=True)
        ]
        proba = None
        if self.model is not None and items:
            proba, _ = self.model.scores(
                [it.title for it in items], [it.text for it in items], [r.scores for r in rules]
            )
        out = []
        for i, (it, lang) in enumerate(zip(items, langs, strict=True)):
            # An empty document would get the model's prior as a "topic".
            empty = not (it.title.strip() or it.text.strip())
            out.append(
                self._combine(it, lang, rules[i], None if proba is None or empty else proba[i])
            )
        return out

    def _model_scores(
        self, it: Item, proba: np.ndarray[Any, Any] | None, evidence: dict[str, list[str]]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(desk scores of the model's classes, text-only probabilities)."""
        if self.model is None or proba is None:
            return {}, {}
        classes = self.model.classes
        text_p = dict(zip(classes, map(float, proba), strict=True))
        p = np.array(proba, dtype=np.float32)
        if it.rubric is not None and it.rubric.weight > 0:
            q = np.clip(p, 1e-6, 1 - 1e-6)
            z = np.log(q / (1 - q)) + it.rubric.shift(classes)
            p = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        scores = dict(zip(classes, map(float, to_score(p, self.model.thresholds)), strict=True))
        for c, tp, bp, t in zip(classes, text_p.values(), p, self.model.thresholds, strict=True):
            if c in self.taxonomy.topics:
                evidence.setdefault(c, []).append(f"model:{tp:.2f}/t{t:.2f}")
                if it.rubric is not None and abs(float(bp) - tp) >= 0.01:
                    evidence[c].append(f"rubric:{it.rubric.name}:{float(bp) - tp:+.2f}")
        return scores, text_p

    def _combine(
        self,
        it: Item,
        lang: str | None,
        rules: RuleResult,
        proba: np.ndarray[Any, Any] | None,
    ) -> Classification:
        supported = lang in SUPPORTED
        evidence: dict[str, list[str]] = {}
        model_s, text_p = self._model_scores(it, proba, evidence)
        scores: dict[str, float] = {}
        for name in self.taxonomy.topics:
            r = rules.scores.get(name, 0.0)
            s = model_s.get(name, r)
            if self.model is not None and self.model.or_rules(name):
                s = 1.0 - (1.0 - s) * (1.0 - r)
            scores[name] = s if supported else s * _UNSUPPORTED_DISCOUNT
            evidence[name] = evidence.get(name, []) + rules.evidence[name]
        self._lift_parents(scores, evidence)
        topics = self._ordered(
            [n for n, t in self.taxonomy.topics.items() if scores[n] >= t.threshold], scores
        )
        if not supported:
            evidence["*"] = [f"language {lang or 'unknown'}: no term rules, model only"]
        return Classification(
            topics=tuple(topics),
            scores={k: round(v, 4) for k, v in scores.items()},
            iptc=tuple(self.taxonomy.iptc_codes(topics)),
            evidence=evidence,
            classifier_version=self.version,
            language=lang,
            language_supported=supported,
            other={k: v for k, v in model_s.items() if k not in self.taxonomy.topics},
            text_proba=text_p,
        )

    def _ordered(self, assigned: list[str], scores: dict[str, float]) -> list[str]:
        """By score, except that a parent comes after its assigned children (most specific
        desk first: a diplomacy story is diplomacy before it is politics)."""
        by_score = sorted(assigned, key=lambda n: -scores[n])
        out: list[str] = []
        for name in by_score:
            kids = [k for k in self.taxonomy.children(name) if k in assigned and k not in out]
            out += [k for k in by_score if k in kids] + [name]
        return list(dict.fromkeys(out))

    def _lift_parents(self, scores: dict[str, float], evidence: dict[str, list[str]]) -> None:
        share = self.taxonomy.parent_share
        for name, topic in self.taxonomy.topics.items():
            parent = topic.parent
            if parent is not None and scores[name] * share > scores[parent]:
                scores[parent] = scores[name] * share
                evidence[parent] = [*evidence[parent], f"child:{name}"]


_default: Classifier | None = None


def default_classifier() -> Classifier:
    global _default  # noqa: PLW0603 - one model per process, loaded on first use
    if _default is None:
        _default = Classifier.from_files()
    return _default


def classify(
    title: str, text: str, language: str | None = None, rubric: RubricPrior | None = None
) -> Classification:
    """Classify one article with the shipped taxonomy and model."""
    return default_classifier().classify(title, text, language, rubric)
