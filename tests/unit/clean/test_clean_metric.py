from __future__ import annotations

import pytest

from streams.clean.metric import aggregate, score_page


def test_identical_texts_score_one() -> None:
    score = aggregate([score_page("a b c d e", "a b c d e")])
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)


def test_empty_prediction_counts_in_recall_only() -> None:
    score = aggregate([score_page("a b c d e", ""), score_page("a b c d", "a b c d")])
    assert score.precision == 1.0
    assert score.recall == pytest.approx(0.5)


def test_multiset_counts_repeats() -> None:
    page = score_page("a b c d a b c d", "a b c d")
    assert page.tp > 0
    assert page.fn > 0
    assert page.fp == 0
