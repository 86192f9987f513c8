from __future__ import annotations

from pathlib import Path

import pytest

from streams.clean.textclean import clean_text, repair_lookalikes


def test_lookalike_inside_cyrillic_word_is_repaired() -> None:
    assert repair_lookalikes("Підписуйтеcь") == "Підписуйтесь"


def test_real_latin_words_are_untouched() -> None:
    text = "Компанія Apple та iPhone, а також NATO і CNN"
    assert repair_lookalikes(text) == text


def test_ukrainian_dotted_i_only_for_ukrainian() -> None:
    assert clean_text("вiйна", "uk") == "війна"


def test_nfc_and_whitespace() -> None:
    assert clean_text("  Cafe\u0301  \u00a0 au   lait \n\n\n next ", "en") == "Café au lait\nnext"


@pytest.mark.parametrize(
    ("line", "language"),
    [
        ("Читайте також: Росія відмовилася йти на компроміс", "uk"),
        ("Читайте также: Новость дня", "ru"),
        ("Read also: Something else happened", "en"),
        ("Подписывайтесь на наш Telegram-канал", "ru"),
        ("Фото: Reuters", "uk"),
    ],
)
def test_promo_lines_are_dropped(line: str, language: str) -> None:
    body = "Перший абзац статті про події.\n" + line + "\nДругий абзац статті."
    assert line not in clean_text(body, language)
    assert "Другий абзац статті." in clean_text(body, language)


def test_sidebar_of_timestamped_headlines_is_removed() -> None:
    text = (
        "Body of the article.\nOther headline\n17:15 08 вер 2025.\nAnother one\n16:55 08 вер 2025."
    )
    assert clean_text(text, "uk") == "Body of the article."


@pytest.mark.parametrize(
    ("marker", "language"),
    [
        ("Оставить комментарий *", "ru"),
        ("Оцените, пожалуйста, статью. Нам важно Ваше мнение.", "ru"),
        ("Залишити коментар", "uk"),
        ("Leave a comment", "en"),
    ],
)
def test_comment_forms_and_rating_widgets_end_the_article(marker: str, language: str) -> None:
    body = f"Перший абзац статті.\n{marker}\nГість: чудова новина\n11:02"
    assert clean_text(body, language) == "Перший абзац статті."


def test_a_sentence_that_only_starts_like_a_marker_is_kept() -> None:
    line = "Оставить комментарий к законопроекту граждане смогут на портале до конца месяца."
    assert clean_text(f"Первый абзац.\n{line}", "ru") == f"Первый абзац.\n{line}"


@pytest.mark.parametrize(
    "line",
    ["October 12, 2017", "11:21 pm CST, Tuesday, November 19, 2019", "8 вересня 2025 р., 17:15"],
)
def test_lines_that_are_only_a_date_are_dropped(line: str) -> None:
    assert clean_text(f"First paragraph.\n{line}\nSecond paragraph.", None) == (
        "First paragraph.\nSecond paragraph."
    )


@pytest.mark.parametrize("line", ["Martin 12", "NATO 2024", "In May 2024 prices rose."])
def test_short_lines_with_numbers_that_are_not_dates_stay(line: str) -> None:
    assert clean_text(f"First paragraph.\n{line}", "en") == f"First paragraph.\n{line}"


def test_readers_comment_thread_is_cut() -> None:
    text = (
        "Body of the article, first paragraph.\nSecond paragraph.\n"
        "Piter 6 Января 2012 14:05:28\n0\nGreat news, thanks.\n"
        "Марина, 06.01.2012 15:58\nI agree with Piter."
    )
    assert clean_text(text, "ru") == "Body of the article, first paragraph.\nSecond paragraph."


def test_schedule_of_dated_lines_inside_an_article_is_kept() -> None:
    text = "Fixtures:\nDynamo - Shakhtar 12.03.2024 19:30\nZorya - Dnipro 13.03.2024 17:00\nEnd."
    assert clean_text(text, "en") == text


@pytest.mark.data
def test_lenta_sample_is_only_the_article(shared: Path) -> None:
    raw = (shared / "samples/lenta-ua-article.txt").read_text("utf-8")
    cleaned = clean_text(raw, "uk")
    assert cleaned.startswith("Влада РФ відмовилася виконувати вимогу США і НАТО")
    assert cleaned.endswith("вимагали відвести свої війська від кордону з Україною.")
    for junk in (
        "Telegram",
        "Читайте також",
        "Ілюстративне фото",
        "Петрук",
        "08 вер 2025",
        "Орбан",
    ):
        assert junk not in cleaned
    assert "Підписуйтеcь" not in cleaned
    assert repair_lookalikes("Підписуйтеcь") in repair_lookalikes(raw)
