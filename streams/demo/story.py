"""What one demo news story is made of, before a site template turns it into HTML.

Every story, name and figure in this package is invented for tests; none is a real report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# Kyiv in winter; the demo dates are all in March before the switch to summer time.
KYIV = timezone(timedelta(hours=2))


def kyiv(day: int, hour: int, minute: int) -> datetime:
    """A March 2024 time in Kyiv, the one month all demo stories happen in."""
    return datetime(2024, 3, day, hour, minute, tzinfo=KYIV)


@dataclass(frozen=True)
class Update:
    """A later revision: an "Updated" line, an extra paragraph and a new modification time."""

    note: str
    paragraph: str
    modified: datetime


@dataclass(frozen=True)
class Story:
    key: str
    lang: str
    path: str
    section: str
    title: str
    description: str
    lead: str
    paragraphs: tuple[str, ...]
    author: str
    published: datetime
    photo_caption: str
    photo_credit: str
    read_also: tuple[str, str]  # (headline, path) of the "Read also" insert
    tags: tuple[str, ...] = ()
    topic: str = ""  # the desk topic a classifier should find; used by tests, not rendered
    alternates: tuple[tuple[str, str], ...] = ()  # (hreflang, path), this story included
    update: Update | None = None
    charset: str = "utf-8"

    @property
    def text(self) -> str:
        """The story's own words (lead and paragraphs), what extraction should return."""
        return "\n".join((self.lead, *self.paragraphs))
