"""Quality on fixed held-out data (never training data), and the sample page's desks.

Bars sit at or a little under the measured figures (streams/classify/README.md, printed by
`newsstream classify-eval`), so that a regression fails. The model file is committed and
deterministic, so the figures do not drift between runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.classify.classifier import Classification, Classifier
from streams.classify.data import Example
from streams.classify.evaluate import (
    desk_figures,
    evaluate,
    expected_desks,
    held_out_results,
    sample_items,
)

pytestmark = pytest.mark.data

# measured: SIB-200 dev uk 0.835, ru 0.850, en 0.816; news ru 0.878, en 0.777; Wikipedia's
# held-out months: four event desks 0.788, ten desks 0.738 (top desk, single label).
SIB_MIN = {"uk": 0.80, "ru": 0.80, "en": 0.80}
NEWS_MIN = {"ru": 0.85, "en": 0.75}
WIKI_MIN = {"wiki-event-desks": 0.77, "wiki-desks": 0.72}
# measured 1.000 (91 of 91: a fifth of the Lenta crime rubric, held out)
CRIME_RECALL_RU_MIN = 0.95
SAMPLE_MIN = 9  # of 13 (measured 9; see the closing note of issue 9 for the misses)

Results = tuple[list[Example], list[Classification]]


@pytest.fixture(scope="module")
def results(classifier: Classifier, shared_data: Path) -> Results:
    return held_out_results(classifier)


@pytest.fixture(scope="module")
def reports(classifier: Classifier, results: Results) -> dict[tuple[str, str], float]:
    return {(r.name, r.language): r.macro_f1 for r in evaluate(classifier, results=results)}


@pytest.mark.parametrize("lang", ["uk", "ru", "en"])
def test_sib200_dev_macro_f1(reports: dict[tuple[str, str], float], lang: str) -> None:
    assert reports[("sib200-dev", lang)] >= SIB_MIN[lang]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_news_heldout_macro_f1(reports: dict[tuple[str, str], float], lang: str) -> None:
    assert reports[("news-heldout", lang)] >= NEWS_MIN[lang]


@pytest.mark.parametrize("name", sorted(WIKI_MIN))
def test_english_event_reports_top_desk(reports: dict[tuple[str, str], float], name: str) -> None:
    assert reports[(name, "en")] >= WIKI_MIN[name]


def test_russian_crime_articles_are_crime(results: Results) -> None:
    [fig] = [
        f
        for f in desk_figures(*results)
        if (f.source, f.language, f.desk) == ("lenta-crime", "ru", "crime")
    ]
    assert fig.tp + fig.fn >= 80
    assert fig.recall >= CRIME_RECALL_RU_MIN


def test_every_learned_desk_is_measured_somewhere(results: Results) -> None:
    measured = {f.desk for f in desk_figures(*results)}
    for desk in ("diplomacy", "war", "crime", "emergencies", "humanitarian", "infrastructure"):
        assert desk in measured


def test_sample_page_headlines(classifier: Classifier, shared_data: Path) -> None:
    items = sample_items()
    assert len(items) == 13
    found = classifier.classify_many(items)
    right = [
        it.title for it, c in zip(items, found, strict=True) if c.top in expected_desks(it.title)
    ]
    assert len(right) >= SAMPLE_MIN
    assert items[0].title in right  # the article itself: diplomacy, by the model


def test_sample_page_is_diplomacy(classifier: Classifier, shared_data: Path) -> None:
    text = (shared_data / "samples" / "lenta-ua-article.txt").read_text(encoding="utf-8")
    title, _, body = text.strip().partition("\n")
    r = classifier.classify(title, body, None)
    assert r.language == "uk"
    assert r.top == "diplomacy"
    assert "medtop:20000638" in r.iptc
    assert any(e.startswith("model:") for e in r.evidence["diplomacy"])


def test_sample_page_routes_to_the_diplomacy_desk_through_clean_and_classify(
    shared_data: Path,
) -> None:
    """The broker-free half of the end-to-end path: RawPage -> clean -> classify/route."""
    from streams.classify.stage import ClassifyStage
    from streams.clean.stage import page_to_article
    from streams.records import SourceRef
    from tests.conftest import make_raw

    body = (shared_data / "samples" / "lenta-ua-article.txt").read_bytes()
    article = page_to_article(make_raw(body, content_type="text/plain; charset=utf-8"))
    stage = ClassifyStage(desks=frozenset({"diplomacy", "politics", "war"}), review_below=0.35)
    result = stage(b"k", article.to_json(), SourceRef(topic="news.unique", partition=0, offset=0))
    assert "news.topic.diplomacy" in [e.topic for e in result.emits]
    assert result.outcome == "ok"
