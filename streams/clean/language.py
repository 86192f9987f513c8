"""Language of a text as an ISO 639-1 code, offline.

py3langid (its model ships inside the wheel) gives the first guess; Ukrainian and Russian are
then settled by letters only one of them has, which is more reliable on short texts than
character n-gram statistics shared by the two.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

__all__ = ["detect_language"]

_UK_ONLY = frozenset("іїєґІЇЄҐ")
_RU_ONLY = frozenset("ыэъёЫЭЪЁ")
_LETTERS = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_EAST_SLAVIC = frozenset({"uk", "ru", "be", "bg", "mk", "sr"})
# Identification reads this much: more does not change the answer, only the time.
_SAMPLE = 1500
_MIN_LETTERS = 12


@cache
def _identifier() -> Any:
    # Deferred: unpacking the model takes ~0.3 s, paid only by processes that identify text.
    from py3langid.langid import (
        MODEL_FILE,
        LanguageIdentifier,
    )

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when there is too little text to tell."""
    sample = text[:_SAMPLE]
    if len(_LETTERS.findall(sample, 0, 400)) < _MIN_LETTERS:
        return None
    code, _prob = _identifier().classify(sample)
    code = str(code)
    if code in _EAST_SLAVIC or len(_CYRILLIC.findall(sample)) > len(sample) // 3:
        return _slavic(sample, code)
    return code


def _slavic(sample: str, guess: str) -> str:
    uk = sum(ch in _UK_ONLY for ch in sample)
    ru = sum(ch in _RU_ONLY for ch in sample)
    # Both alphabets appear in quotes and names; only a clear majority overrides the model.
    if uk > 2 * ru and uk >= 2:
        return "uk"
    if ru > 2 * uk and ru >= 2:
        return "ru"
    return guess
