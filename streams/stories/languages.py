"""Cosines across languages, put on the same-language scale.

The encoder places a text and its translation close, but not as close as the text to itself:
on FLORES sentences and their translations (SIB-200 in ../shared/data/topics, the first 200
sentence ids present in all three languages; ``bench/stories.py`` re-measures on the others),
the mean cosine of a uk sentence and its ru translation is 0.940, uk-en 0.907, ru-en 0.921,
while unrelated sentences score 0.786, 0.767 and 0.770 (0.786 within one language). With one
threshold for all, a uk and an en report of one event would almost never meet it: even exact
translations mostly score below 0.957.

``calibrated`` maps a cross-language cosine linearly so that the pair's unrelated mean lands
on the same-language unrelated mean and its translation mean on 1.0 (what a text scores with
itself). Languages outside the table, or the same language, are left as they are.
"""

from __future__ import annotations

SAME_LANGUAGE_UNRELATED = 0.786
# (unrelated mean, translation mean) per language pair, from SIB-200 as above.
CROSS = {
    frozenset({"uk", "ru"}): (0.786, 0.940),
    frozenset({"uk", "en"}): (0.767, 0.907),
    frozenset({"ru", "en"}): (0.770, 0.921),
}


def calibrated(cos: float, a: str | None, b: str | None) -> float:
    if a is None or b is None or a == b:
        return cos
    table = CROSS.get(frozenset({a, b}))
    if table is None:
        return cos
    unrelated, translation = table
    scale = (1.0 - SAME_LANGUAGE_UNRELATED) / (translation - unrelated)
    return SAME_LANGUAGE_UNRELATED + (cos - unrelated) * scale
