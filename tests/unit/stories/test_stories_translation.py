"""Translations: uk/ru versions of one article on one outlet are paired and share a story."""

from __future__ import annotations

from streams.stories import StoryAssigner
from streams.stories.translation import outlet, translation_keys
from tests.unit.stories.fakes import T0, article

UK = {
    "title": "Зеленський зустрівся з Макроном у Парижі",
    "text": "Володимир Зеленський 30 листопада зустрівся з Емманюелем Макроном, 20 пунктів.",
}
RU = {
    "title": "Зеленский встретился с Макроном в Париже",
    "text": "Владимир Зеленский 30 ноября встретился с Эммануэлем Макроном, 20 пунктов.",
}


def test_alternate_link_pairs_the_versions() -> None:
    a = StoryAssigner()
    uk = a.assign(
        article(
            "a" * 32,
            "paris",
            url="https://news.example/uk/story-x",
            language="uk",
            alternates={"ru": "https://news.example/russian/story-x-ru"},
            **UK,
        )
    )
    ru = a.assign(
        article(
            "b" * 32,
            "other",
            url="https://news.example/russian/story-x-ru",
            language="ru",
            t=T0 + 300,
            **RU,
        )
    )
    assert uk.new_story
    assert ru.translation_of == "a" * 32
    assert ru.story_id == uk.story_id


def test_language_segment_and_cms_id_pair_the_versions() -> None:
    a = StoryAssigner()
    a.assign(
        article(
            "a" * 32,
            "x1",
            url="https://www.pravda.example/news/2026/11/30/7531234/",
            language="uk",
            **UK,
        )
    )
    ru = a.assign(
        article(
            "b" * 32,
            "x2",
            url="https://www.pravda.example/rus/news/2026/11/30/7531234/",
            language="ru",
            t=T0 + 60,
            **RU,
        )
    )
    assert ru.translation_of == "a" * 32
    keys = translation_keys("https://site.example/ru/a/b?lang=ru", {})
    assert "path:site.example|/a/b?" in keys


def test_content_pairs_versions_of_one_outlet_only() -> None:
    a = StoryAssigner()
    a.assign(article("a" * 32, "paris", url="https://one.example/a1", language="uk", **UK))
    same_outlet = a.assign(
        article(
            "b" * 32,
            "paris",
            url="https://one.example/b2",
            language="ru",
            t=T0 + 60,
            noise=0.05,
            **RU,
        )
    )
    other_outlet = a.assign(
        article(
            "c" * 32,
            "paris",
            url="https://two.example/c3",
            language="ru",
            t=T0 + 90,
            noise=0.05,
            **RU,
        )
    )
    assert same_outlet.translation_of == "a" * 32
    assert other_outlet.translation_of is None  # a report of the story, not a translation
    assert other_outlet.story_id == "a" * 32


def test_same_language_is_never_a_translation() -> None:
    a = StoryAssigner()
    a.assign(article("a" * 32, "paris", url="https://one.example/uk/x", language="uk", **UK))
    again = a.assign(
        article("b" * 32, "paris", url="https://one.example/ua/x", language="uk", t=T0 + 60, **UK)
    )
    assert again.translation_of is None


def test_a_third_version_names_the_first() -> None:
    a = StoryAssigner()
    a.assign(article("a" * 32, "x", url="https://n.example/uk/item/123456", language="uk", **UK))
    a.assign(
        article(
            "b" * 32, "y", url="https://n.example/ru/item/123456", language="ru", t=T0 + 60, **RU
        )
    )
    en = a.assign(
        article("c" * 32, "z", url="https://n.example/en/item/123456", language="en", t=T0 + 120)
    )
    assert en.translation_of == "a" * 32


def test_outlet_drops_www_and_language_subdomains() -> None:
    assert outlet("https://www.pravda.com.ua/rus/news/1") == "pravda.com.ua"
    assert outlet("https://ru.example.com/x") == outlet("https://uk.example.com/x")
    assert outlet("not a url") == ""
