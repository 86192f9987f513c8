"""Publisher rubrics as evidence: the book's counting, merging and prior, and the stage's use
of it (a rubric lifts a desk only where the text alone is unsure)."""

from __future__ import annotations

import itertools

from streams.classify.classifier import Classifier
from streams.classify.rubrics import MIN_ARTICLES, RubricBook
from streams.classify.stage import ClassifyStage
from streams.records import Article, ClassifiedArticle, RubricStats, SourceRef
from streams.stage import StageResult
from streams.topology import ARTICLES, RUBRICS
from tests.conftest import make_article

ORIGIN = SourceRef(topic="news.unique", partition=0, offset=1)


def test_a_rubric_speaks_only_after_enough_articles() -> None:
    book = RubricBook("g", "w1")
    for _ in range(MIN_ARTICLES - 1):
        book.observe("lenta-ua", "кримінал", {"crime": 0.9, "sport": 0.0})
    assert book.prior("lenta-ua", "кримінал") is None
    book.observe("lenta-ua", "кримінал", {"crime": 0.4, "sport": 0.0})
    prior = book.prior("lenta-ua", "кримінал")
    assert prior is not None
    assert abs(prior.proba["crime"] - (0.9 * (MIN_ARTICLES - 1) + 0.4) / MIN_ARTICLES) < 1e-6
    assert 0 < prior.weight < 0.5
    assert book.prior("other-source", "кримінал") is None  # per source: rubrics differ


def test_writers_are_summed_and_replays_change_nothing() -> None:
    a, b = RubricBook("g", "wa"), RubricBook("g", "wb")
    records = [a.observe("s", "world", {"diplomacy": 1.0}) for _ in range(4)]
    records += [b.observe("s", "world", {"diplomacy": 0.0}) for _ in range(4)]
    reader = RubricBook("g", "reader")
    for rec in records + records:  # every record twice: a redelivery or a re-read
        reader.merge(RubricStats.from_json(rec.to_json()))
    prior = reader.prior("s", "world")
    assert prior is not None
    assert prior.proba["diplomacy"] == 0.5  # 8 articles, 4 of them diplomacy
    a.merge(records[-1])  # a writer reading its own echo or another writer's totals
    assert a.prior("s", "world") is not None
    # another consumer group's pipeline saw the same pages: not counted again
    elsewhere = RubricStats.from_json(records[0].to_json()).model_copy(
        update={"group": "blue", "writer": "wz", "articles": 50}
    )
    assert not reader.merge(elsewhere)
    assert reader.prior("s", "world") == prior


def _stage(classifier: Classifier) -> ClassifyStage:
    """The real classifier in the stage, with a fresh rubric book (group g, writer w1)."""
    return ClassifyStage(
        desks=frozenset(classifier.taxonomy.topics),
        review_below=0.3,
        classifier=classifier.classify,
        rubrics=RubricBook("g", "w1"),
    )


def test_stage_publishes_its_totals_and_uses_the_prior(classifier: Classifier) -> None:
    stage = _stage(classifier)
    art = make_article("Police arrested two suspects in a robbery of a jewellery shop.")
    art = art.model_copy(update={"rubric": "crime", "source_id": "example"})
    result = stage(b"k", art.to_json(), ORIGIN)
    [rubric_emit] = [e for e in result.emits if e.topic == RUBRICS]
    stats = RubricStats.from_json(rubric_emit.value)
    assert (stats.source_id, stats.rubric, stats.group, stats.writer, stats.articles) == (
        "example",
        "crime",
        "g",
        "w1",
        1,
    )
    assert rubric_emit.key == b"example|crime|w1"
    assert stats.proba_sums["crime"] > 0.5
    no_rubric = stage(b"k", make_article("x y z w v").to_json(), ORIGIN)
    assert RUBRICS not in [e.topic for e in no_rubric.emits]
    again = stage(b"k", art.to_json(), ORIGIN)  # redelivered: routed again, not counted again
    assert RUBRICS not in [e.topic for e in again.emits]
    assert ARTICLES in [e.topic for e in again.emits]


CLEAR_CRIME = [
    (
        "Поліція затримала грабіжника",
        "Слідчі повідомили про підозру чоловіку, який пограбував ювелірний магазин у центрі міста.",
    ),
    (
        "Суд заарештував підозрюваного у вбивстві",
        "Прокурори просили тримати його під вартою без права на заставу.",
    ),
    (
        "Шахраї ошукали пенсіонерку на 200 тисяч",
        "Поліція відкрила кримінальне провадження за статтею про шахрайство.",
    ),
    (
        "На Львівщині затримали банду крадіїв авто",
        "Зловмисники викрадали автомобілі та продавали їх на запчастини.",
    ),
]
OTHER_RUBRICS = {
    "спорт": (
        "Динамо виграло у Шахтаря",
        "Київська команда перемогла у фіналі кубка з рахунком 2:1, тренер похвалив гравців.",
    ),
    "економіка": (
        "НБУ залишив облікову ставку без змін",
        "Інфляція сповільнилася, а курс гривні залишається стабільним, повідомили в Нацбанку.",
    ),
}
# Says what happened, not whether a crime did: alone, the model is unsure.
AMBIGUOUS = (
    "Події ночі у Кривому Розі",
    "На вулиці Соборній знайшли тіло чоловіка 45 років. "
    "На місці працюють відповідні служби, обставини з'ясовують.",
)


def _article(title: str, text: str, rubric: str | None) -> Article:
    art = make_article(text)
    ident = f"{next(_IDS):032x}"  # every page its own article: a repeated id counts once
    return art.model_copy(
        update={
            "title": title,
            "language": "uk",
            "rubric": rubric,
            "source_id": "lenta-ua",
            "article_id": ident,
        }
    )


_IDS = itertools.count(1)


def test_a_learned_rubric_lifts_the_desk_of_an_ambiguous_page(classifier: Classifier) -> None:
    stage = _stage(classifier)
    alone = _topics(stage(b"k", _article(*AMBIGUOUS, None).to_json(), ORIGIN))
    assert "crime" not in alone.topics  # precondition: the text alone is unsure
    for _ in range(10):  # the stream teaches the book what this source's rubrics mean
        for title, text in CLEAR_CRIME:
            stage(b"k", _article(title, text, "кримінал").to_json(), ORIGIN)
        for rubric, (title, text) in OTHER_RUBRICS.items():
            stage(b"k", _article(title, text, rubric).to_json(), ORIGIN)
    lifted = _topics(stage(b"k", _article(*AMBIGUOUS, "кримінал").to_json(), ORIGIN))
    assert "crime" in lifted.topics
    assert lifted.scores["crime"] > alone.scores["crime"]
    assert any(e.startswith("rubric:кримінал:+") for e in lifted.evidence["crime"])
    # a rubric the book has not seen (too few articles) changes nothing
    unseen = _topics(stage(b"k", _article(*AMBIGUOUS, "культура").to_json(), ORIGIN))
    assert unseen.scores == alone.scores
    # the sport rubric of the same source pushes crime down, not up
    sport = _topics(stage(b"k", _article(*AMBIGUOUS, "спорт").to_json(), ORIGIN))
    assert sport.scores["crime"] < alone.scores["crime"]


def test_a_source_with_one_rubric_learns_nothing_from_it() -> None:
    book = RubricBook("g", "w1")
    for _ in range(30):
        book.observe("one-rubric-site", "news-feed", {"crime": 0.9, "sport": 0.1})
    prior = book.prior("one-rubric-site", "news-feed")
    assert prior is not None
    assert abs(prior.shift(["crime", "sport"])).max() < 1e-9


def _topics(result: StageResult) -> ClassifiedArticle:
    return ClassifiedArticle.from_json(result.emits[0].value)
