"""The demo site's article pages: ten pages in Ukrainian, Russian and English.

Special cases a pipeline must handle, each on purpose:

* ``border-uk`` and ``border-ru`` are one story in two languages, linked by hreflang;
* ``fraud-ru`` is served in windows-1251 with a matching Content-Type charset;
* ``bridge-uk`` is revised: the first request gets version 1, later ones version 2 with an
  "Updated" line and an extra paragraph;
* ``rate-en-partner`` repeats ``rate-en`` word for word under a partner's template and path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from streams.demo.stories_ru_en import BORDER_RU, FRAUD_RU, ICE_RU, RATE_EN, SUBSTATION_EN
from streams.demo.stories_uk import AIR_DEFENCE_UK, BORDER_UK, BRIDGE_UK, MATCH_UK
from streams.demo.story import Story
from streams.demo.templates import render_article, render_partner

PRIVATE_PATH = "/private/drafts.html"
SECTION_PATH = "/news/"


@dataclass(frozen=True)
class DemoPage:
    key: str
    path: str
    story: Story
    template: Literal["main", "partner"] = "main"
    syndicates: str | None = None  # key of the page whose text this one republishes

    @property
    def charset(self) -> str:
        return self.story.charset if self.template == "main" else "utf-8"

    @property
    def content_type(self) -> str:
        return f"text/html; charset={self.charset}"

    @property
    def revisions(self) -> int:
        """How many different bodies the page has over time."""
        return 2 if self.template == "main" and self.story.update is not None else 1

    @property
    def modified(self) -> datetime:
        """Time of the latest revision."""
        update = self.story.update
        return (
            update.modified if update is not None and self.revisions > 1 else self.story.published
        )

    def render(self, base_url: str, revision: int = 0) -> bytes:
        """The page's bytes in its own charset (raises if a character does not fit)."""
        revision = min(revision, self.revisions - 1)
        if self.template == "partner":
            html = render_partner(self.story, base_url, self.path)
        else:
            html = render_article(self.story, base_url, revision)
        return html.encode(self.charset)


def _linked(uk: Story, ru: Story) -> tuple[Story, Story]:
    """The two stories with hreflang alternates pointing at each other (and themselves)."""
    pairs = (("uk", uk.path), ("ru", ru.path))
    return dataclasses.replace(uk, alternates=pairs), dataclasses.replace(ru, alternates=pairs)


def _build() -> tuple[DemoPage, ...]:
    border_uk, border_ru = _linked(BORDER_UK, BORDER_RU)
    main = (border_uk, border_ru, BRIDGE_UK, AIR_DEFENCE_UK, MATCH_UK, FRAUD_RU, ICE_RU)
    pages = [DemoPage(s.key, s.path, s) for s in (*main, SUBSTATION_EN, RATE_EN)]
    pages.append(
        DemoPage(
            key="rate-en-partner",
            path="/partners/regional-wire/2024/03/14/key-rate-unchanged-cuts-later.html",
            story=RATE_EN,
            template="partner",
            syndicates=RATE_EN.key,
        )
    )
    return tuple(pages)


PAGES: tuple[DemoPage, ...] = _build()


def page_by_path(path: str) -> DemoPage | None:
    return next((p for p in PAGES if p.path == path), None)


def page_by_key(key: str) -> DemoPage:
    return next(p for p in PAGES if p.key == key)
