"""Cross-language cosines are put on the same-language scale; the same language is untouched."""

from __future__ import annotations

import pytest

from streams.stories.languages import CROSS, SAME_LANGUAGE_UNRELATED, calibrated


def test_same_or_unknown_language_unchanged() -> None:
    assert calibrated(0.9, "uk", "uk") == 0.9
    assert calibrated(0.9, "uk", None) == 0.9
    assert calibrated(0.9, "de", "en") == 0.9


@pytest.mark.parametrize("pair", [("uk", "ru"), ("uk", "en"), ("ru", "en")])
def test_anchors_and_order(pair: tuple[str, str]) -> None:
    unrelated, translation = CROSS[frozenset(pair)]
    assert calibrated(unrelated, *pair) == pytest.approx(SAME_LANGUAGE_UNRELATED)
    assert calibrated(translation, *pair) == pytest.approx(1.0)
    assert calibrated(0.9, *pair) == calibrated(0.9, *reversed(pair))
    assert calibrated(0.9, *pair) > 0.9  # across languages a cosine is worth more
