"""What an article brings to story grouping, apart from its embedding: name keys and numbers.

A **name key** stands for a capitalised word (a person, place, organisation, acronym) and is
meant to be the same in Ukrainian, Russian and English spelling: the word is transliterated to
Latin, a few spellings are merged (kh/х, g/h/г, c/k/q, w/v), vowels, soft signs and repeated
letters are dropped, and the first three consonants are kept (``_`` marks a leading vowel).
Зеленського, Зеленский and Zelensky all become ``zln``; Москве and Moscow ``msk``; Київ, Киев
and Kyiv ``kv``. Three consonants also absorb most case endings (Путина, Путиным: ``ptn``).
Keys collide more than names do; they only choose candidates and add evidence beside the
embedding, they never decide alone.

Numbers are written-out figures with at least two digits ("53 Palestinians", "$30", "2,5%"):
a shared casualty count or price is strong evidence of one event, a year much weaker.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# The title and the opening paragraphs: 1,500 characters linked more same-story pairs than 300 or
# 600 at the same false-link rate on the stories pairs (a few more names of the event are shared).
LEAD_CHARS = 1500
KEY_CONSONANTS = 3

_CYRILLIC = dict(
    zip(
        "абвгґдеєёжзиіїйклмнопрстуфхцчшщъыьэюя",
        "a b v g g d e e e zh z i i i i k l m n o p r s t u f x c ch sh sh _ y _ e u a".split(),  # noqa: SIM905 - one letter per column
        strict=True,
    )
)
# Applied in order, after transliteration: spellings that differ between uk, ru and en.
_MERGES = (("kh", "x"), ("ch", "C"), ("sh", "S"), ("zh", "Z"), ("ts", "c"), ("h", "g"))
_SAME = str.maketrans(
    {"q": "k", "w": "v", "x": "g", "c": "k", "z": "s", "j": "i", "'": "", "_": ""}
)
_VOWELS = re.compile(r"[aeiouy]")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_SENTENCE_END = re.compile(r"[.!?…»\"]\s*$")
# Capitalised only because they open a sentence or a headline: not names.
_FUNCTION_WORDS = frozenset(
    """a an the in on at of for to from by with after before as and but or if it its this that
    these those there he she they we is are was were be has have had will would can could new
    not no all more most some what why how when who where also about over under into than
    в во на у с со к ко по о об от до из за для при про над под после перед как что это этот
    эта эти так но и а или же ли не ни он она они мы вы я его ее их там тут уже еще ещё все
    всё новый новые будет был была были есть из-за также
    в у на з із зі до від для при про над під після перед як що це цей ця ці так але і й та
    або чи не ні він вона вони ми ви я його її їх там тут вже ще все усі нові буде був була
    були є також через""".split()  # noqa: SIM905 - a word list reads better
)


def transliterate(word: str) -> str:
    return "".join(_CYRILLIC.get(ch, ch) for ch in word.lower())


_FUNCTION_LATIN = frozenset(transliterate(w) for w in _FUNCTION_WORDS)


def name_key(word: str) -> str | None:
    """The key of one capitalised word, or None when too little of it is left."""
    latin = transliterate(word.replace("’", "'"))
    for old, new in _MERGES:
        latin = latin.replace(old, new)
    latin = latin.lower().translate(_SAME)
    if not latin.isascii() or not latin.isalpha():
        return None  # another script (Greek, CJK, ...): no key rather than a wrong one
    lead = "_" if _VOWELS.match(latin) else ""
    consonants = re.sub(r"(.)\1+", r"\1", _VOWELS.sub("", latin))
    key = lead + consonants[:KEY_CONSONANTS]
    return key if len(key) >= 2 else None


def _capitalised(word: str) -> bool:
    return word[0].isupper() and (len(word) > 1 and (word[1].islower() or word.isupper()))


def name_keys(title: str, text: str) -> frozenset[str]:
    """Keys of the capitalised words of the title and the lead (function words left out)."""
    keys: set[str] = set()
    for part in (title, text[:LEAD_CHARS]):
        for match in _WORD.finditer(part):
            word = match.group(0).strip("-'’")
            if len(word) < 2 or not _capitalised(word) or word.lower() in _FUNCTION_WORDS:
                continue
            key = name_key(word)
            if key is not None:
                keys.add(key)
    return frozenset(keys)


def numbers(title: str, text: str) -> frozenset[str]:
    """Figures with at least two digits in the title and lead, as written ("2,5" = "2.5")."""
    found = set()
    for part in (title, text[:LEAD_CHARS]):
        for match in _NUMBER.finditer(part):
            value = match.group(0).replace(",", ".")
            if sum(ch.isdigit() for ch in value) >= 2:
                found.add(value)
    return frozenset(found)


@dataclass(frozen=True)
class TextSignals:
    names: frozenset[str]
    numbers: frozenset[str]


def text_signals(title: str, text: str) -> TextSignals:
    return TextSignals(name_keys(title, text), numbers(title, text))


# Lexical evidence beside the embedding, measured as score terms on half A of the stories
# pairs (``tuning.compare_evidence``, docs/stories.md "Text evidence"): neither separated the
# pairs better than the story vector's cosine alone, so the score does not use them. Both
# read Latin transliterations, so a uk and a ru spelling of one word share grams and stems.
GRAM = 4  # character 4-grams within words: a word's stem survives most case endings
STEM_LETTERS = 5  # a crude stem: the first five letters of a transliterated content word


def _words(title: str, text: str) -> list[str]:
    return [transliterate(w) for w in _WORD.findall(f"{title} {text[:LEAD_CHARS]}".lower())]


def char_grams(title: str, text: str) -> dict[str, int]:
    """Counts of the character 4-grams inside the words of the title and lead (a word
    shorter than 4 letters is one gram)."""
    counts: dict[str, int] = {}
    for word in _words(title, text):
        for i in range(max(1, len(word) - GRAM + 1)):
            gram = word[i : i + GRAM]
            counts[gram] = counts.get(gram, 0) + 1
    return counts


def gram_cosine(a: dict[str, int], b: dict[str, int]) -> float:
    """Cosine of two gram counts with sublinear weights (1 + ln count): a gram repeated ten
    times is not ten times the evidence."""
    if not a or not b:
        return 0.0
    wa = {g: 1.0 + math.log(c) for g, c in a.items()}
    wb = {g: 1.0 + math.log(c) for g, c in b.items()}
    dot = sum(v * wb[g] for g, v in wa.items() if g in wb)
    na = math.sqrt(sum(v * v for v in wa.values()))
    nb = math.sqrt(sum(v * v for v in wb.values()))
    return dot / (na * nb)


def stems(title: str, text: str) -> frozenset[str]:
    """Crude stems of the content words (4+ letters, not function words) of title and lead."""
    return frozenset(
        w[:STEM_LETTERS] for w in _words(title, text)
        if len(w) >= 4 and w not in _FUNCTION_LATIN
    )  # fmt: skip


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
