"""Text normalisation for the term rules."""

from __future__ import annotations

import re

# Latin letters that look like Cyrillic ones: pages mix them inside Cyrillic words
# ("Підписуйтеcь" with a Latin c), which would hide a word from every stem rule.
_LOOKALIKE = str.maketrans("aceiopxyk", "асеіорхук")
_MIXED_WORD = re.compile(r"\w*[а-яіїєґё]\w*", re.IGNORECASE)
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "ё": "е"})


def _fold_word(match: re.Match[str]) -> str:
    return match.group(0).translate(_LOOKALIKE)


def fold(text: str) -> str:
    """Lower-case, one apostrophe, Latin look-alikes inside Cyrillic words made Cyrillic."""
    return _MIXED_WORD.sub(_fold_word, text.lower().translate(_APOSTROPHES))
