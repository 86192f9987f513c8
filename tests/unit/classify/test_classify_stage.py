"""Routing: every article to news.articles, each topic to its desk, unsure ones to review."""

from __future__ import annotations

from streams.classify.classifier import Classification
from streams.classify.stage import ClassifyStage
from streams.records import ClassifiedArticle, SourceRef
from streams.topology import ARTICLES, REVIEW
from tests.conftest import make_article

ORIGIN = SourceRef(topic="news.unique", partition=0, offset=1)


def _fixed(topics: tuple[str, ...], top: float) -> ClassifyStage:
    def fake(title: str, text: str, language: str | None, rubric: object) -> Classification:
        scores = dict.fromkeys(("crime", "sport", "war"), 0.01) | dict.fromkeys(topics, top)
        return Classification(
            topics=topics,
            scores=scores,
            iptc=("medtop:02000000",),
            evidence={t: ["term:x"] for t in topics},
            classifier_version="test",
        )

    return ClassifyStage(desks=frozenset({"crime", "sport"}), review_below=0.6, classifier=fake)


def test_confident_article_goes_to_articles_and_each_desk() -> None:
    result = _fixed(("crime", "sport"), 0.9)(b"k", make_article("x").to_json(), ORIGIN)
    topics = [e.topic for e in result.emits]
    assert topics == [ARTICLES, "news.topic.crime", "news.topic.sport"]
    assert result.outcome == "ok"
    out = ClassifiedArticle.from_json(result.emits[0].value)
    assert out.topics == ["crime", "sport"]
    assert out.classifier_version == "test"


def test_unclassified_or_unsure_article_goes_to_review_not_dropped() -> None:
    for topics, top in (((), 0.1), (("crime",), 0.55)):
        result = _fixed(topics, top)(b"k", make_article("x").to_json(), ORIGIN)
        assert result.emits[0].topic == ARTICLES
        assert REVIEW in [e.topic for e in result.emits]
        assert result.outcome == "review"


def test_the_real_classifier_runs_in_the_stage() -> None:
    stage = ClassifyStage(desks=frozenset({"sport"}), review_below=0.3)
    art = make_article("The coach said the team will win the league match and the cup.")
    result = stage(b"k", art.to_json(), ORIGIN)
    assert "news.topic.sport" in [e.topic for e in result.emits]
