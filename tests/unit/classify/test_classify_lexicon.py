"""The uk->ru lexicon that puts Ukrainian into Russian words for the sentence encoder."""

from __future__ import annotations

import pytest

from streams.classify import lexicon
from streams.classify.model import load_model

pytestmark = pytest.mark.skipif(not lexicon.available(), reason="pymorphy3 not installed")


def test_lemmas_fold_inflections() -> None:
    assert lexicon.lemmas("Війська увійшли", "uk")[0] == "військо"
    assert lexicon.lemmas("Войска вошли", "ru")[0] == "войско"


def test_table_pairs_lemmas_that_co_occur() -> None:
    pairs = [("Уряд ухвалив бюджет", "Правительство приняло бюджет"),
             ("Уряд подав у відставку", "Правительство ушло в отставку"),
             ("Команда виграла матч", "Команда выиграла матч")]
    table = lexicon.build_table(pairs)
    assert table["уряд"] == "правительство"
    assert "бюджет" not in table  # one pair only: not enough evidence


def test_unknown_words_are_respelled() -> None:
    assert lexicon.to_russian("Уряд і їжак", {"уряд": "правительство"}) == "правительство и йижак"


def test_shipped_model_carries_its_lexicon() -> None:
    assert len(load_model().spec.uk_lexicon) > 500
