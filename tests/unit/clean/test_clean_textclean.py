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
