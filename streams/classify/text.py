"""Text normalisation shared by the term rules and the statistical model."""

from __future__ import annotations

import re

# Latin letters that look like Cyrillic ones: pages mix them inside Cyrillic words
# ("Підписуйтеcь" with a Latin c), which would hide a word from every stem rule.
_LOOKALIKE = str.maketrans("aceiopxyk", "асеіорхук")
_MIXED_WORD = re.compile(r"\w*[а-яіїєґё]\w*", re.IGNORECASE)
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "ё": "е"})
# Ukrainian spelled in Russian letters: the model then shares char n-grams between the two
# languages (і~и, и~ы, є~е), so Russian training text helps Ukrainian and back.
_UK_AS_RU = str.maketrans({"і": "и", "ї": "йи", "є": "е", "и": "ы", "ґ": "г", "'": "ь"})


def _fold_word(match: re.Match[str]) -> str:
    return match.group(0).translate(_LOOKALIKE)


def fold(text: str) -> str:
    """Lower-case, one apostrophe, Latin look-alikes inside Cyrillic words made Cyrillic."""
    return _MIXED_WORD.sub(_fold_word, text.lower().translate(_APOSTROPHES))


def uk_as_ru(text: str) -> str:
    """Folded Ukrainian text in Russian letters."""
    return text.translate(_UK_AS_RU)


def for_model(text: str, language: str | None) -> str:
    """What the character n-gram model reads: folded, Ukrainian in Russian letters."""
    folded = fold(text)
    return folded.translate(_UK_AS_RU) if language == "uk" else folded
