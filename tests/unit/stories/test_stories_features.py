"""Name keys are shared across uk, ru and en spellings; figures need two digits."""

from __future__ import annotations

import math

import pytest

from streams.stories.features import (
    char_grams,
    gram_cosine,
    jaccard,
    name_key,
    name_keys,
    numbers,
    stems,
)


@pytest.mark.parametrize(
    "words",
    [
        ("Зеленського", "Зеленский", "Zelensky"),
        ("Київ", "Киев", "Kyiv"),
        ("Харків", "Харькове", "Kharkiv"),
        ("Москве", "Moscow"),
        ("Ізраїль", "Израиль", "Israel"),
        ("Трамп", "Trump"),
    ],
)
def test_one_name_one_key(words: tuple[str, ...]) -> None:
    assert len({name_key(w) for w in words}) == 1


def test_function_words_and_short_words_are_not_names() -> None:
    keys = name_keys("The talks in Paris", "В Москве. У Києві. А потом")
    assert keys == {name_key("Paris"), name_key("Москве"), name_key("Києві")}


def test_figures() -> None:
    assert numbers("53 killed, 2,5% and 7 more", "") == {"53", "2.5"}


def test_char_grams_match_across_cyrillic_and_latin_spellings() -> None:
    ru = char_grams("Зеленский в Киеве", "")
    en = char_grams("Zelensky in Kyiv", "")
    other = char_grams("Погода на выходные", "")
    assert gram_cosine(ru, en) > gram_cosine(ru, other)
    assert gram_cosine(ru, ru) == pytest.approx(1.0)
    assert gram_cosine(ru, {}) == 0.0


def test_repeated_grams_count_sublinearly() -> None:
    once, often = {"abcd": 1, "wxyz": 1}, {"abcd": 10, "wxyz": 1}
    # raw counts would give 11 / (sqrt 2 * sqrt 101) = 0.77; with 1 + ln 10 = 3.30 for the
    # repeated gram: 4.30 / (sqrt 2 * sqrt(3.30² + 1)) = 0.88
    w = 1.0 + math.log(10)
    assert gram_cosine(once, often) == pytest.approx((w + 1) / (2**0.5 * (w * w + 1) ** 0.5))
    assert gram_cosine(once, often) > 11 / (2 * 101) ** 0.5


def test_stems_drop_function_and_short_words_and_endings() -> None:
    assert stems("Президента встретили", "в Киеве также") == {"prezi", "vstre", "kieve"}
    assert stems("Президент", "") & stems("президента", "") == {"prezi"}
    assert jaccard(frozenset({"a", "b"}), frozenset({"b", "c"})) == pytest.approx(1 / 3)
    assert jaccard(frozenset(), frozenset()) == 0.0
