"""Ukrainian put into Russian words for the sentence encoder, which knows Russian well and
Ukrainian poorly.

A uk lemma -> ru lemma table is learned from the parallel SIB-200 training sentences (the same
sentence in both languages): a pair of lemmas is kept when it co-occurs in at least two
sentence pairs with a Dice coefficient of at least 0.5. At run time a Ukrainian text is
lemmatised (pymorphy3 with its Ukrainian dictionary, offline), each lemma found in the table is
replaced by its Russian lemma and the others are respelled in Russian letters; the encoder
embeds the result. Measured by cross-validation on the training split (``train.py``).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from streams.classify.text import fold, uk_as_ru

MIN_PAIRS = 2
MIN_DICE = 0.5
MAX_WORDS = 100  # the encoder reads the title and lead; 100 words is about its 600 characters
_WORD = re.compile(r"\w+")
_lock = threading.Lock()
_analyzers: dict[str, Any] = {}


def available() -> bool:
    try:
        import pymorphy3  # noqa: F401
    except ImportError:
        return False
    return True


def _analyzer(lang: str) -> Any:
    with _lock:
        if lang not in _analyzers:
            import pymorphy3

            _analyzers[lang] = pymorphy3.MorphAnalyzer(lang=lang)
        return _analyzers[lang]


@lru_cache(maxsize=200_000)
def lemma(word: str, lang: str) -> str:
    return str(_analyzer(lang).parse(word)[0].normal_form)


def lemmas(text: str, lang: str, limit: int = MAX_WORDS) -> list[str]:
    return [lemma(w, lang) for w in _WORD.findall(fold(text))[:limit]]


def build_table(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """uk lemma -> ru lemma from (Ukrainian text, its Russian translation) pairs."""
    n_uk: Counter[str] = Counter()
    n_ru: Counter[str] = Counter()
    both: Counter[tuple[str, str]] = Counter()
    for uk, ru in pairs:
        u, r = set(lemmas(uk, "uk")), set(lemmas(ru, "ru"))
        n_uk.update(u)
        n_ru.update(r)
        both.update((a, b) for a in u for b in r)
    best: dict[str, tuple[float, str]] = {}
    for (a, b), k in sorted(both.items()):
        if k < MIN_PAIRS:
            continue
        dice = 2 * k / (n_uk[a] + n_ru[b])
        if dice >= MIN_DICE and dice > best.get(a, (0.0, ""))[0]:
            best[a] = (dice, b)
    return {a: b for a, (_, b) in sorted(best.items())}


def to_russian(text: str, table: dict[str, str]) -> str:
    """A Ukrainian text as Russian lemmas where the table knows them, respelled otherwise."""
    return " ".join(table.get(w) or uk_as_ru(w) for w in lemmas(text, "uk"))


def encoder_texts(docs: Sequence[str], langs: Sequence[str | None],
                  table: dict[str, str] | None) -> list[str] | None:
    """What the encoder reads for each document when a table is in use (None: no table)."""
    if not table or not available():
        return None
    return [to_russian(d, table) if lang == "uk" else d
            for d, lang in zip(docs, langs, strict=True)]
