"""Text-level cleaning after extraction (or of plain-text pages): boilerplate lines, sidebars,
bylines, Latin look-alike letters, Unicode normalisation and whitespace.

The per-language phrases live in ``rules/textclean.yaml`` (loaded once), so an operator can add a
phrase without a code change; the structural rules (sidebars of timestamped headlines, a byline
glued to a section name) are language-independent and stay in code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from streams.clean.dates import month_number

__all__ = ["clean_text", "repair_lookalikes"]

_RULES_FILE = Path(__file__).with_name("rules") / "textclean.yaml"
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u00ad\u200c\u200d\u2060\ufeff]")
# A line that is only a time and/or a date: "17:15 08 вер 2025.", "12.03.2024", "10:45".
_STAMP = re.compile(
    r"^(?:\d{1,2}:\d{2}\s*)?(?:\d{1,2}[ .](?:\d{1,2}|[^\W\d_]{3,10})\.?[ .]?(?:\d{2,4})?"
    r"(?:,?\s*\d{1,2}:\d{2})?\.?)?$"
)
_RELATIVE_STAMP = re.compile(
    r"^(?:сегодня|вчера|сьогодні|вчора|today|yesterday),?\s*(?:в\s*|о\s*|at\s*)?\d{1,2}:\d{2}$",
    re.IGNORECASE,
)
# "Ігор ПетрукНовини": a person's name run into a section name (lower case, then upper case).
_GLUED_BYLINE = re.compile(
    r"^(?:[^\W\d_][^\W\d_'’-]+ ){1,2}[^\W\d_]+[a-zа-яіїєґ][A-ZА-ЯІЇЄҐ][^\W\d_]+$"
)
_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")
# A run of timestamped headlines this long is a sidebar, not a chronology inside an article.
_SIDEBAR_RUN = 2
# A comment header: a short signature, then a date and a time ("Piter 6 Января 2012 14:05:28",
# "Олег, 12.03.2024 10:15"). Two of them after the text mean a comment thread: cut from the first.
_COMMENT_HEADER = re.compile(
    r"^[^\W\d_][\w .'’-]{0,38}?,?\s+\d{1,2}(?:\s+[^\W\d_]{3,10}\.?\s+|[./-]\d{1,2}[./-])\d{2,4}"
    r",?\s+(?:в\s+|о\s+|at\s+)?\d{1,2}:\d{2}(?::\d{2})?$"
)
_COMMENT_RUN = 2
# Top-level sections of the rules file that are not per-language phrase rules.
_NOT_LANGUAGES = ("any", "lookalikes", "date_line")
_CLOCK = re.compile(r"\d{1,2}:\d{2}")
_MAX_DATE_LINE = 60


@dataclass(frozen=True, slots=True)
class _LangRules:
    drop: tuple[re.Pattern[str], ...]
    cut: tuple[re.Pattern[str], ...]
    lookalikes: dict[int, str]


@cache
def _raw_rules() -> dict[str, Any]:
    data = yaml.safe_load(_RULES_FILE.read_text("utf-8"))
    return data if isinstance(data, dict) else {}


@cache
def _rules(language: str | None) -> _LangRules:
    raw = _raw_rules()
    sections = [raw.get("any") or {}]
    if language and language in raw:
        sections.append(raw[language] or {})
    elif language is None:
        # Unknown language: apply every language's phrases; they are specific enough.
        sections.extend(v for k, v in raw.items() if k not in _NOT_LANGUAGES and v)
    flags = re.IGNORECASE
    drop = tuple(re.compile(p, flags) for s in sections for p in s.get("drop_line") or ())
    cut = tuple(re.compile(p, flags) for s in sections for p in s.get("cut_after") or ())
    table = dict((raw.get("lookalikes") or {}).get("common") or {})
    table.update((raw.get("lookalikes") or {}).get(language or "", {}) or {})
    return _LangRules(drop, cut, {ord(k): v for k, v in table.items()})


def clean_text(text: str, language: str | None) -> str:
    """Article text without boilerplate lines, normalised (NFC, whitespace, look-alikes);
    paragraphs separated by one newline."""
    rules = _rules(language)
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    lines = [repair_lookalikes(line, rules.lookalikes) for line in lines if line]
    lines = _cut_comments(_cut_sidebar(lines))
    kept: list[str] = []
    for line in lines:
        if any(p.search(line) for p in rules.cut):
            break
        if any(p.search(line) for p in rules.drop) or _is_stamp(line):
            continue
        kept.append(line)
    while kept and _GLUED_BYLINE.match(kept[-1]):
        kept.pop()
    return "\n".join(kept)


def _is_stamp(line: str) -> bool:
    if len(line) > _MAX_DATE_LINE or not any(ch.isdigit() for ch in line):
        return False
    if len(line) <= 32 and (_STAMP.match(line) or _RELATIVE_STAMP.match(line)):
        return True
    # A line of nothing but a date and time in words: a dateline or "updated" stamp. It needs a
    # month or a clock time, so "NATO 2024" or "Covid 19" stay.
    words = _WORD.findall(line)
    if not words or not all(_is_date_word(w) for w in words):
        return False
    return bool(_CLOCK.search(line)) or any(_is_month(w) for w in words)


@cache
def _date_line_words() -> tuple[frozenset[str], frozenset[str]]:
    section = _raw_rules().get("date_line") or {}
    return frozenset(section.get("words") or ()), frozenset(section.get("en_months") or ())


def _is_month(word: str) -> bool:
    low = word.lower()
    # English month names are matched whole ("Martin 12" is no date); Cyrillic ones are
    # inflected ("березня", "марта") and go through the date parser's stems.
    return low in _date_line_words()[1] if low.isascii() else month_number(low) is not None


def _is_date_word(word: str) -> bool:
    low = word.lower()
    # Time-zone abbreviations (CST, EEST, GMT) are short upper-case words.
    return low in _date_line_words()[0] or _is_month(word) or (word.isupper() and len(word) <= 4)


def _cut_comments(lines: list[str]) -> list[str]:
    """Everything from the first of several comment headers on is readers' comments."""
    heads = [len(line) <= 80 and bool(_COMMENT_HEADER.match(line)) for line in lines]
    # Each comment has a body after its header; consecutive headers are a fixture list or a
    # schedule ("Team A - Team B 12.03.2024 19:30"), which belongs to the article.
    headers = [i for i, h in enumerate(heads) if h and i + 1 < len(lines) and not heads[i + 1]]
    if len(headers) < _COMMENT_RUN or headers[0] == 0:
        return lines
    return lines[: headers[0]]


def _cut_sidebar(lines: list[str]) -> list[str]:
    """Drop runs of "headline, timestamp" pairs (lists of other stories), keep the rest."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        run = 0
        while (
            i + 2 * run + 1 < len(lines)
            and _is_stamp(lines[i + 2 * run + 1])
            and not (_is_stamp(lines[i + 2 * run]))
        ):
            run += 1
        if run >= _SIDEBAR_RUN:
            i += 2 * run
            continue
        kept.append(lines[i])
        i += 1
    return kept


def repair_lookalikes(text: str, table: dict[int, str] | None = None) -> str:
    """Replace Latin letters that look Cyrillic inside words that are mostly Cyrillic."""
    mapping = table if table is not None else _rules(None).lookalikes
    if not _CYRILLIC.search(text) or not _LATIN.search(text):
        return text

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        latin = len(_LATIN.findall(word))
        if latin == 0 or latin >= len(_CYRILLIC.findall(word)):
            return word
        return word.translate(mapping)

    return _WORD.sub(fix, text)
