"""The classifier: term rules and the statistical model combined into one score per topic.

Per topic, score = 1 - (1 - model) * (1 - rules): either source alone can assign a topic, and
both together make it surer. The model knows the topics its training sets label (politics,
economy, sport, ...); the rules also cover those none label (diplomacy, crime, war, ...). A
child topic lifts its parent (crime -> society) to ``parent_share`` of its score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streams.classify.features import model_text
from streams.classify.model import TopicModel, load_model
from streams.classify.rules import RuleResult, TermRules
from streams.classify.taxonomy import Taxonomy, load_taxonomy

# Languages with term rules and training data; others get the model only and say so.
SUPPORTED = ("uk", "ru", "en")
# Without rules the model is the only evidence; keep such articles nearer the review line.
_UNSUPPORTED_DISCOUNT = 0.8
# Evidence n-grams are looked for in the title and lead only: enough to explain, and cheap.
_EXPLAIN_CHARS = 1500


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "topics": list(self.topics), "scores": self.scores, "iptc": list(self.iptc),
            "evidence": self.evidence, "classifier_version": self.classifier_version,
            "language": self.language, "language_supported": self.language_supported,
        }


def detect_language(text: str) -> str | None:
    import py3langid

    lang, _ = py3langid.classify(text[:2000])
    return str(lang) if text.strip() else None


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

    def classify(self, title: str, text: str, language: str | None = None) -> Classification:
        return self.classify_many([(title, text, language)])[0]

    def classify_many(
        self, items: list[tuple[str, str, str | None]]
    ) -> list[Classification]:
        """Batch form: the model reads all items at once (faster in benches and training)."""
        langs = [lang or detect_language(f"{h}\n{t}") for h, t, lang in items]
        titles, texts = [h for h, _, _ in items], [t for _, t, _ in items]
        rules = [self.rules.score(h, t, lang)
                 for h, t, lang in zip(titles, texts, langs, strict=True)]
        proba = (self.model.proba(titles, texts, langs, [r.scores for r in rules])
                 if self.model and items else None)
        # An empty document would get the model's prior (its largest class) as a "topic".
        empty = [not (h.strip() or t.strip()) for h, t in zip(titles, texts, strict=True)]
        return [
            self._combine(h, t, lang, rules[i], None if proba is None or empty[i] else proba[i])
            for i, (h, t, lang) in enumerate(zip(titles, texts, langs, strict=True))
        ]

    def _combine(
        self, title: str, text: str, lang: str | None, rules: RuleResult,
        proba: np.ndarray[Any, Any] | None,
    ) -> Classification:
        model_p = dict(zip(self.model.classes, map(float, proba), strict=True)) if (
            self.model and proba is not None) else {}
        supported = lang in SUPPORTED
        scores: dict[str, float] = {}
        evidence: dict[str, list[str]] = {}
        for name in self.taxonomy.topics:
            m, r = model_p.get(name, 0.0), rules.scores.get(name, 0.0)
            s = 1.0 - (1.0 - m) * (1.0 - r)
            scores[name] = s if supported else s * _UNSUPPORTED_DISCOUNT
            evidence[name] = ([f"model:{m:.2f}"] if name in model_p else []) + rules.evidence[name]
        self._lift_parents(scores, evidence)
        topics = sorted(
            (n for n, t in self.taxonomy.topics.items() if scores[n] >= t.threshold),
            key=lambda n: -scores[n],
        )
        self._explain(title, text, lang, topics, evidence)
        if not supported:
            evidence["*"] = [f"language {lang or 'unknown'}: no term rules, model only"]
        return Classification(
            topics=tuple(topics), scores={k: round(v, 4) for k, v in scores.items()},
            iptc=tuple(self.taxonomy.iptc_codes(topics)), evidence=evidence,
            classifier_version=self.version, language=lang, language_supported=supported,
            other={k: v for k, v in model_p.items() if k not in self.taxonomy.topics},
        )

    def _lift_parents(self, scores: dict[str, float], evidence: dict[str, list[str]]) -> None:
        share = self.taxonomy.parent_share
        for name, topic in self.taxonomy.topics.items():
            parent = topic.parent
            if parent is not None and scores[name] * share > scores[parent]:
                scores[parent] = scores[name] * share
                evidence[parent] = [*evidence[parent], f"child:{name}"]

    def _explain(
        self, title: str, text: str, lang: str | None, topics: list[str],
        evidence: dict[str, list[str]],
    ) -> None:
        """Name the character n-grams behind the model's part of each assigned topic."""
        if self.model is None:
            return
        doc = model_text(title, text, lang)[:_EXPLAIN_CHARS]
        for name in topics:
            if name in self.model.classes:
                cls = self.model.classes.index(name)
                evidence[name] = evidence[name] + self.model.top_features(doc, cls)


_default: Classifier | None = None


def default_classifier() -> Classifier:
    global _default  # noqa: PLW0603 - one model per process, loaded on first use
    if _default is None:
        _default = Classifier.from_files()
    return _default


def classify(title: str, text: str, language: str | None = None) -> Classification:
    """Classify one article with the shipped taxonomy and model."""
    return default_classifier().classify(title, text, language)
