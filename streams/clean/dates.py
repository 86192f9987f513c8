"""Publication dates from page metadata, the URL and visible text (uk/ru/en), and reconciliation.

Metadata is tried in order of how often publishers get it right: JSON-LD ``datePublished``,
``article:published_time``-style meta tags, ``<time datetime>``, then a date in the URL path.
A page with none of these goes to htmldate's heuristics (which date belongs to the article, not
to the header's "today" or a sidebar), and only then to the first date written out in the text.
htmldate knows no Ukrainian months and guesses 1 January from a bare year, so our text rules
override such a guess. Naive times are taken as UTC. No date is ever in the future.
Measured against htmldate alone in bench/libraries.py; figures in docs/libraries.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from htmldate import find_date
from selectolax.lexbor import LexborHTMLParser

__all__ = [
    "date_from_html",
    "date_from_text",
    "date_from_url",
    "month_number",
    "parse_date",
    "reconcile",
]

_META_SELECTORS = (
    'meta[property="article:published_time"]',
    'meta[property="og:published_time"]',
    'meta[itemprop="datePublished"]',
    'meta[name="pubdate"]',
    'meta[name="publish-date"]',
    'meta[name="date"]',
    'meta[name="dc.date"]',
    'meta[name="DC.date.issued"]',
    'meta[name="sailthru.date"]',
    'meta[property="article:modified_time"]',
)
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:[/-]|$)")
_URL_COMPACT = re.compile(r"/((?:19|20)\d{2})(0[1-9]|1[0-2])([012]\d|3[01])(?:[/_-]|$)")
_NUMERIC = re.compile(r"\b([0-3]?\d)\.([01]?\d)\.((?:19|20)\d{2})\b")
# Month stems: long genitive forms ("12 березня", "12 марта"), short ones ("08 вер") and English.
_MONTHS: tuple[tuple[str, int], ...] = (
    ("січ", 1), ("лют", 2), ("бер", 3), ("кві", 4), ("тра", 5), ("чер", 6),
    ("лип", 7), ("сер", 8), ("вер", 9), ("жов", 10), ("лис", 11), ("гру", 12),
    ("январ", 1), ("феврал", 2), ("март", 3), ("апрел", 4), ("ма", 5), ("июн", 6),
    ("июл", 7), ("август", 8), ("сентябр", 9), ("октябр", 10), ("ноябр", 11), ("декабр", 12),
    ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6),
    ("jul", 7), ("aug", 8), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12),
)  # fmt: skip
_DAY_MONTH_YEAR = re.compile(r"\b([0-3]?\d)\s+([^\W\d_]{3,12})\.?,?\s+((?:19|20)\d{2})\b")
_MONTH_DAY_YEAR = re.compile(
    r"\b([A-Za-z]{3,9})\.?\s+([0-3]?\d)(?:st|nd|rd|th)?,?\s+((?:19|20)\d{2})\b"
)
_CLOCK = re.compile(r"^\D{0,5}([0-2]?\d):([0-5]\d)")
# A page date more than this after the fetch time is a clock or parsing error, not news.
_CLOCK_SKEW = timedelta(minutes=5)
# Placeholders such as "0001-01-01T00:00:00" are not dates; 1995 is htmldate's own lower bound
# (the first news sites).
_EARLIEST_YEAR = 1995
# htmldate logs every page it cannot date at WARNING; a missing date is normal, not news.
logging.getLogger("htmldate").setLevel(logging.ERROR)


def parse_date(value: str) -> datetime | None:
    """An ISO-8601-like or written-out date as an aware datetime (UTC if no zone is given)."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return date_from_text(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def date_from_html(
    tree: LexborHTMLParser, url: str | None = None, *, guess: bool = True
) -> datetime | None:
    """The page's publication date. htmldate picks the day; our metadata supplies the time and
    zone when it names the same day; our text rules win over htmldate's bare-year guess.
    ``guess=False`` is our rules alone (metadata, URL, text): several times faster, less right."""
    meta = next(filter(None, map(parse_date, _metadata_dates(tree))), None)
    meta = meta if meta is not None and meta.year >= _EARLIEST_YEAR else None
    text = date_from_text(tree.body.text(separator="\n")[:20000]) if tree.body else None
    found = meta or (date_from_url(url) if url else None)
    # A page whose own metadata lies in the future (embargo, broken clock) gets no guessed
    # date either: the caller drops it and falls back to the feed's date or the fetch time.
    if not guess or (meta is not None and meta > datetime.now(UTC)):
        return found or text
    guessed = _htmldate(tree, url)
    if guessed is None:
        return found or text
    if text is not None and _year_only(guessed, text):
        guessed = text
    return found if found is not None and found.date() == guessed.date() else guessed


def _htmldate(tree: LexborHTMLParser, url: str | None) -> datetime | None:
    """htmldate's choice among the dates of the page (a day, no time)."""
    found = find_date(tree.html or "", extensive_search=False, original_date=True, url=url)
    if not found:
        return None
    day = date.fromisoformat(found)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _year_only(guessed: datetime, text: datetime) -> bool:
    """htmldate's fallback for a bare year is 1 January; our text rule read the whole date."""
    return (guessed.month, guessed.day) == (1, 1) and text.year == guessed.year


def _metadata_dates(tree: LexborHTMLParser) -> Iterator[str]:
    for script in tree.css('script[type="application/ld+json"]'):
        yield from _jsonld_dates(script.text())
    for selector in _META_SELECTORS:
        node = tree.css_first(selector)
        if node is not None:
            yield node.attributes.get("content") or ""
    for node in tree.css("time[datetime]"):
        yield node.attributes.get("datetime") or ""


def _jsonld_dates(raw: str) -> Iterator[str]:
    try:
        data = json.loads(raw)
    except ValueError:
        return
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            value = item.get("datePublished") or item.get("dateCreated")
            if isinstance(value, str):
                yield value
            stack.extend(v for v in item.values() if isinstance(v, list | dict))


def date_from_url(url: str) -> datetime | None:
    for pattern in (_URL_DATE, _URL_COMPACT):
        match = pattern.search(url)
        if match:
            found = _make(int(match[1]), int(match[2]), int(match[3]))
            if found is not None:
                return found
    return None


def date_from_text(text: str) -> datetime | None:
    """First date written out in ``text``: "12 березня 2024", "12 марта 2024 г.", "March 12,
    2024", "12.03.2024"; a clock time right after it is kept."""
    best: tuple[int, datetime] | None = None
    for match in _DAY_MONTH_YEAR.finditer(text):
        month = month_number(match[2])
        found = _make(int(match[3]), month, int(match[1])) if month else None
        if found is not None:
            best = _earliest(best, match.start(), _with_clock(found, text, match.end()))
            break
    for match in _MONTH_DAY_YEAR.finditer(text):
        month = month_number(match[1])
        found = _make(int(match[3]), month, int(match[2])) if month else None
        if found is not None:
            best = _earliest(best, match.start(), _with_clock(found, text, match.end()))
            break
    numeric = _NUMERIC.search(text)
    if numeric:
        found = _make(int(numeric[3]), int(numeric[2]), int(numeric[1]))
        if found is not None:
            best = _earliest(best, numeric.start(), _with_clock(found, text, numeric.end()))
    return best[1] if best else None


def _earliest(
    best: tuple[int, datetime] | None, position: int, found: datetime
) -> tuple[int, datetime]:
    return (position, found) if best is None or position < best[0] else best


def month_number(word: str) -> int | None:
    word = word.lower()
    if word in ("ма", "мая", "май"):
        return 5
    for stem, number in _MONTHS:
        # "ма" alone would also match "марта": it is handled exactly above.
        if stem != "ма" and word.startswith(stem):
            return number
    return None


def _with_clock(day: datetime, text: str, end: int) -> datetime:
    match = _CLOCK.match(text[end : end + 12])
    if match and int(match[1]) < 24:
        return day.replace(hour=int(match[1]), minute=int(match[2]))
    return day


def _make(year: int, month: int, day: int) -> datetime | None:
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def reconcile(
    page_date: datetime | None, feed_date: datetime | None, fetched_at: datetime
) -> datetime:
    """The publication time to store: the page's own date, else the feed's, else the fetch
    time; a candidate later than the fetch (plus small clock skew) is rejected, and the result
    is never after ``fetched_at``. A page date without a time of day ("12 March 2024") on the
    feed date's day gives way to the feed date, which carries the time."""
    fetched = _aware(fetched_at)
    page = _aware(page_date) if page_date is not None else None
    feed = _aware(feed_date) if feed_date is not None else None
    if page is not None and feed is not None and _bare_day(page) and page.date() == feed.date():
        page = feed
    for candidate in (page, feed):
        if candidate is not None and candidate <= fetched + _CLOCK_SKEW:
            return min(candidate, fetched)
    return fetched


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _bare_day(value: datetime) -> bool:
    return (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)
