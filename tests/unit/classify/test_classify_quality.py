"""Quality on fixed held-out data (never training data), and the sample page's topic.

Thresholds sit a little under the measured figures (README "Topics and classification") so
that a regression fails while one or two flipped sentences of 99 do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.classify.classifier import Classifier
from streams.classify.evaluate import evaluate

pytestmark = pytest.mark.data

# measured: uk 0.795, ru 0.84, en 0.82; news ru 0.78, en 0.72 (baselines TF-IDF+LR 0.66 / 0.67 /
# 0.71). uk sits under 0.80 by one or two sentences: the bar is what is reliably reached.
SIB_MIN = {"uk": 0.76, "ru": 0.80, "en": 0.78}
NEWS_MIN = {"ru": 0.72, "en": 0.62}


def test_sample_page_is_diplomacy(classifier: Classifier, shared_data: Path) -> None:
    text = (shared_data / "samples" / "lenta-ua-article.txt").read_text(encoding="utf-8")
    title, _, body = text.strip().partition("\n")
    r = classifier.classify(title, body, None)
    assert r.language == "uk"
    assert "diplomacy" in r.topics
    assert max(r.scores, key=lambda t: r.scores[t]) == "diplomacy"
    assert "medtop:20000638" in r.iptc


@pytest.fixture(scope="module")
def reports(classifier: Classifier, shared_data: Path) -> dict[tuple[str, str], float]:
    return {(r.name, r.language): r.macro_f1 for r in evaluate(classifier)}


@pytest.mark.parametrize("lang", ["uk", "ru", "en"])
def test_sib200_dev_macro_f1(reports: dict[tuple[str, str], float], lang: str) -> None:
    assert reports[("sib200-dev", lang)] >= SIB_MIN[lang]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_news_heldout_macro_f1(reports: dict[tuple[str, str], float], lang: str) -> None:
    assert reports[("news-heldout", lang)] >= NEWS_MIN[lang]


def test_sample_page_routes_to_the_diplomacy_desk_through_clean_and_classify(
    shared_data: Path,
) -> None:
    """The broker-free half of the end-to-end path: RawPage -> clean -> classify/route."""
    from streams.records import SourceRef
    from streams.stages.classify import ClassifyStage
    from streams.stages.clean import page_to_article
    from tests.conftest import make_raw

    body = (shared_data / "samples" / "lenta-ua-article.txt").read_bytes()
    article = page_to_article(make_raw(body, content_type="text/plain; charset=utf-8"))
    stage = ClassifyStage(desks=frozenset({"diplomacy", "politics", "war"}), review_below=0.35)
    result = stage(b"k", article.to_json(), SourceRef(topic="news.unique", partition=0, offset=0))
    assert "news.topic.diplomacy" in [e.topic for e in result.emits]
    assert result.outcome == "ok"
