"""Name keys are shared across uk, ru and en spellings; figures need two digits."""

from __future__ import annotations

import pytest

from streams.stories.features import name_key, name_keys, numbers


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
