"""Morphology-aware term rules: word stems per topic and language, from the taxonomy file.

Ukrainian and Russian inflect heavily ("війська/військ/військами"), so a term is a stem that
matches at a word start followed by any letters; ``$`` marks a whole word (short acronyms).
The score grows with distinct stems found, so one word repeated ten times counts little.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from streams.classify.taxonomy import Taxonomy
from streams.classify.text import fold

# One stem gives 0.33, two 0.55, three 0.70: a topic needs more than one cue to pass 0.5.
_SCALE = 2.5
# Long pages mention everything; beyond this many characters hits are discounted.
_LONG_TEXT = 3000
_TITLE_WEIGHT = 2.0
# A stem seen only after the lead (sidebars, "read also" links, tags) counts half: news puts
# its subject in the title and the first paragraphs.
_LEAD_CHARS = 1000
_LATE_WEIGHT = 0.5


def _term_pattern(term: str) -> str:
    words = []
    for word in fold(term).split():
        whole = word.endswith("$")
        words.append(re.escape(word.rstrip("$")) + ("" if whole else r"[\w']*"))
    return r"\s+".join(words)


def _compile(terms: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str]]:
    """One alternation per topic and language, a group per term: one pass over the text
    instead of one per term. Longer terms first, so a phrase wins over its first word."""
    ordered = tuple(sorted(terms, key=lambda t: (-len(t), t)))
    groups = "|".join(f"({_term_pattern(t)})" for t in ordered)
    return ordered, re.compile(rf"(?<![\w'])(?:{groups})(?![\w'])")


def _count(found: re.Pattern[str], terms: tuple[str, ...], text: str) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for m in found.finditer(text):
        positions.setdefault(terms[(m.lastindex or 1) - 1], []).append(m.start())
    return positions


@dataclass(frozen=True)
class TopicRules:
    topic: str
    patterns: dict[str, tuple[tuple[str, ...], re.Pattern[str]]]

    def hits(self, title: str, text: str, language: str) -> dict[str, tuple[float, float]]:
        """Stem -> (weighted number of matches, weight: 1 in title or lead, less after it)."""
        if language not in self.patterns:
            return {}
        terms, pattern = self.patterns[language]
        in_text, in_title = _count(pattern, terms, text), _count(pattern, terms, title)
        found: dict[str, tuple[float, float]] = {}
        for term in in_text.keys() | in_title.keys():
            starts, n_title = in_text.get(term, []), len(in_title.get(term, []))
            early = n_title > 0 or min(starts) < _LEAD_CHARS
            found[term] = (len(starts) + _TITLE_WEIGHT * n_title, 1.0 if early else _LATE_WEIGHT)
        return found


@dataclass(frozen=True)
class RuleResult:
    scores: dict[str, float]
    evidence: dict[str, list[str]]


class TermRules:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self.rules = [
            TopicRules(
                topic=t.name,
                patterns={lang: _compile(terms) for lang, terms in t.terms.items()},
            )
            for t in taxonomy.topics.values()
        ]
        self.languages = frozenset(lang for r in self.rules for lang in r.patterns)

    def score(self, title: str, text: str, language: str | None) -> RuleResult:
        lang = language or ""
        title_f, text_f = fold(title), fold(text)
        damp = math.sqrt(max(1.0, len(text_f) / _LONG_TEXT))
        scores: dict[str, float] = {}
        evidence: dict[str, list[str]] = {}
        for rule in self.rules:
            hits = rule.hits(title_f, text_f, lang)
            raw = sum(w * (1.0 + 0.5 * math.log(max(n, 1.0))) for n, w in hits.values()) / damp
            scores[rule.topic] = 1.0 - math.exp(-raw / _SCALE)
            top = sorted(hits.items(), key=lambda kv: -kv[1][0] * kv[1][1])[:6]
            evidence[rule.topic] = [f"term:{term}x{n:g}" for term, (n, _) in top]
        return RuleResult(scores, evidence)
