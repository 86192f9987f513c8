"""Stage 3, classify and route: Article -> news.articles + news.topic.<t> (+ news.review)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from streams.classify import Classification, classify
from streams.records import Article, ClassifiedArticle, SourceRef
from streams.stages.base import Emit, StageResult
from streams.topology import ARTICLES, REVIEW, desk_topic_name

Classifier = Callable[[str, str, str | None], Classification]


def to_classified(article: Article, c: Classification) -> ClassifiedArticle:
    fields = article.model_dump(exclude={"kind"})
    return ClassifiedArticle(
        **fields,
        topics=list(c.topics),
        scores=dict(c.scores),
        iptc=list(c.iptc),
        evidence={k: list(v) for k, v in c.evidence.items()},
        classifier_version=c.classifier_version,
    )


def route(article: ClassifiedArticle, desks: frozenset[str], review_below: float) -> list[Emit]:
    """Every article to news.articles; each known topic to its desk; unsure ones to review."""
    key = article.article_id
    emits = [Emit.record(ARTICLES, key, article)]
    emits += [Emit.record(desk_topic_name(t), key, article) for t in article.topics if t in desks]
    top = max(article.scores.values(), default=0.0)
    if not article.topics or top < review_below:
        emits.append(Emit.record(REVIEW, key, article))
    return emits


@dataclass
class ClassifyStage:
    desks: frozenset[str]
    review_below: float
    classifier: Classifier = field(default=classify)
    name: str = "classify"

    def __post_init__(self) -> None:
        # Load the model and the sentence encoder when the worker starts: a missing or broken
        # model then stops the start instead of sending every article to the DLQ.
        if self.classifier is classify:
            self.classifier("warm-up", "warm-up", "en")

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        article = Article.from_json(value)
        c = self.classifier(article.title, article.text, article.language)
        classified = to_classified(article, c)
        emits = route(classified, self.desks, self.review_below)
        outcome = "review" if any(e.topic == REVIEW for e in emits) else "ok"
        return StageResult(outcome, emits)
