"""HTML templates of the demo site: the main site and a partner site that syndicates a story.

The markup copies the habits that make real news pages hard to clean: navigation, a sidebar of
other headlines with times and dates, "Read also" and Telegram inserts inside the text, photo
credits, a section name glued to the byline (no whitespace between the tags), cookie and
copyright footers, and one Latin "c" hiding in a Ukrainian word.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape

from streams.demo.story import Story

SITE_NAME = {"uk": "Щоденний Вісник", "ru": "Ежедневный Вестник", "en": "Daily Herald"}
_NAV = {
    "uk": ("Головна", "Політика", "Дипломатія", "Війна", "Економіка", "Спорт", "Кримінал"),
    "ru": ("Главная", "Политика", "Дипломатия", "Война", "Экономика", "Спорт", "Криминал"),
    "en": ("Home", "Politics", "War", "Economy", "World", "Sport", "Opinion"),
}
_MONTH = {"uk": "березня", "ru": "марта", "en": "March"}
_LABELS = {
    "uk": {
        "read_also": "Читайте також:",
        # The "c" in "Підписуйтеcь" is Latin on purpose: real pages have such look-alikes.
        "promo": "Підписуйтеcь на наш Telegram-канал «Щоденний Вісник» — лише перевірені новини",
        "latest": "Останні новини",
        "tags": "Теги:",
        "share": "Поділитися",
        "rights": "Усі права захищено. Використання матеріалів дозволено лише з гіперпосиланням.",
        "cookies": "Ми використовуємо cookies, щоб сайт працював краще. Гаразд",
    },
    "ru": {
        "read_also": "Читайте также:",
        "promo": "Подписывайтесь на наш Telegram-канал «Ежедневный Вестник» — только факты",
        "latest": "Последние новости",
        "tags": "Теги:",
        "share": "Поделиться",
        "rights": "Все права защищены. Использование материалов разрешено только с гиперссылкой.",
        "cookies": "Мы используем cookies, чтобы сайт работал лучше. Хорошо",
    },
    "en": {
        "read_also": "Read also:",
        "promo": "Follow Daily Herald on Telegram for verified news as it happens",
        "latest": "Latest news",
        "tags": "Tags:",
        "share": "Share",
        "rights": "All rights reserved. Reproduction only with a link to the original.",
        "cookies": "We use cookies to make this site work better. OK",
    },
}
# (time, date, headline) shown beside every article: the noise a cleaner must drop.
_SIDEBAR = {
    "uk": (
        ("16:12", "17.03.2024", "На Київщині відкрили новий центр надання адмінпослуг"),
        ("15:47", "17.03.2024", "Синоптики попередили про туман на заході країни"),
        ("14:30", "17.03.2024", "Уряд продовжив програму компенсацій за зруйноване житло"),
        ("12:05", "16.03.2024", "У Львові стартував фестиваль документального кіно"),
    ),
    "ru": (
        ("16:12", "17.03.2024", "В Киевской области открыли новый центр админуслуг"),
        ("15:47", "17.03.2024", "Синоптики предупредили о тумане на западе страны"),
        ("14:30", "17.03.2024", "Правительство продлило программу компенсаций за жилье"),
        ("12:05", "16.03.2024", "Во Львове стартовал фестиваль документального кино"),
    ),
    "en": (
        ("16:12", "17.03.2024", "New administrative services centre opens near Kyiv"),
        ("15:47", "17.03.2024", "Forecasters warn of fog in western regions"),
        ("14:30", "17.03.2024", "Government extends housing compensation programme"),
        ("12:05", "16.03.2024", "Documentary film festival opens in Lviv"),
    ),
}


def human_date(lang: str, when: datetime) -> str:
    return f"{when.day} {_MONTH[lang]} {when.year}, {when:%H:%M}"


def _json_ld(story: Story, url: str, modified: datetime) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.title,
        "inLanguage": story.lang,
        "datePublished": story.published.isoformat(),
        "dateModified": modified.isoformat(),
        "author": {"@type": "Person", "name": story.author},
        "publisher": {"@type": "Organization", "name": SITE_NAME[story.lang]},
        "mainEntityOfPage": url,
        "keywords": list(story.tags),
    }
    # "</" inside a script element would end it early.
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _head(story: Story, base_url: str, modified: datetime) -> str:
    url = base_url + story.path
    alternates = "".join(
        f'<link rel="alternate" hreflang="{lang}" href="{escape(base_url + path)}">\n'
        for lang, path in story.alternates
    )
    return f"""<head>
<meta charset="{story.charset}">
<title>{escape(story.title)} | {SITE_NAME[story.lang]}</title>
<meta name="description" content="{escape(story.description)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:type" content="article">
<meta property="og:title" content="{escape(story.title)}">
<meta property="og:url" content="{escape(url)}">
<meta property="og:site_name" content="{SITE_NAME[story.lang]}">
<meta property="article:published_time" content="{story.published.isoformat()}">
<meta property="article:modified_time" content="{modified.isoformat()}">
<link rel="canonical" href="{escape(url)}">
{alternates}<script type="application/ld+json">{_json_ld(story, url, modified)}</script>
</head>"""


def _nav(lang: str) -> str:
    items = "".join(f'<li><a href="/{lang}/">{escape(n)}</a></li>' for n in _NAV[lang])
    return f'<header><div class="logo">{SITE_NAME[lang]}</div><nav><ul>{items}</ul></nav></header>'


def _sidebar(lang: str) -> str:
    rows = "".join(
        f'<li><span class="time">{t}</span> <span class="date">{d}</span> '
        f'<a href="/{lang}/">{escape(h)}</a></li>'
        for t, d, h in _SIDEBAR[lang]
    )
    return f'<aside class="latest"><h3>{_LABELS[lang]["latest"]}</h3><ul>{rows}</ul></aside>'


def _meta_line(story: Story) -> str:
    # No whitespace between the tags: text extraction glues section, byline and date together.
    when = story.published
    return (
        f'<div class="article-meta"><a class="section" href="/{story.lang}/">'
        f'{escape(story.section)}</a><span class="author">{escape(story.author)}</span>'
        f'<time datetime="{when.isoformat()}">{human_date(story.lang, when)}</time></div>'
    )


def _body_paragraphs(story: Story, revision: int) -> list[str]:
    labels = _LABELS[story.lang]
    paras = [f"<p><strong>{escape(story.lead)}</strong></p>"]
    for i, text in enumerate(story.paragraphs):
        paras.append(f"<p>{escape(text)}</p>")
        if i == 0:
            paras.append(
                f'<figure><img src="/img/{story.key}.jpg" alt="{escape(story.photo_caption)}">'
                f"<figcaption>{escape(story.photo_caption)}. "
                f"{escape(story.photo_credit)}</figcaption></figure>"
            )
        elif i == 1:
            headline, path = story.read_also
            paras.append(
                f'<p class="read-also">{labels["read_also"]} '
                f'<a href="{escape(path)}">{escape(headline)}</a></p>'
            )
        elif i == 2:
            paras.append(f'<div class="promo"><a href="https://t.me/">{labels["promo"]}</a></div>')
    if revision > 0 and story.update is not None:
        paras.append(f"<p>{escape(story.update.paragraph)}</p>")
    return paras


def render_article(story: Story, base_url: str, revision: int = 0) -> str:
    """The main site's page for ``story``; revision 1+ includes its update, if it has one."""
    update = story.update if revision > 0 else None
    modified = update.modified if update is not None else story.published
    labels = _LABELS[story.lang]
    note = f'<p class="updated"><em>{escape(update.note)}</em></p>' if update else ""
    tags = "".join(f'<a href="/{story.lang}/" rel="tag">{escape(t)}</a> ' for t in story.tags)
    return f"""<!DOCTYPE html>
<html lang="{story.lang}">
{_head(story, base_url, modified)}
<body>
{_nav(story.lang)}
<main><article>
<div class="breadcrumbs"><a href="/">{SITE_NAME[story.lang]}</a> / {escape(story.section)}</div>
<h1>{escape(story.title)}</h1>
{_meta_line(story)}
{note}<div class="article-body">
{chr(10).join(_body_paragraphs(story, revision))}
</div>
<div class="tags">{labels["tags"]} {tags}</div>
<div class="share">{labels["share"]}: Facebook Telegram X Viber</div>
</article>
{_sidebar(story.lang)}
</main>
<footer><p>© 2008–2024 {SITE_NAME[story.lang]}. {labels["rights"]}</p>
<div class="cookie-banner">{labels["cookies"]}</div></footer>
</body>
</html>
"""


def render_partner(story: Story, base_url: str, path: str) -> str:
    """A syndicating partner's copy of ``story``: same words, older table-based template."""
    url = base_url + path
    body = "".join(f"<p>{escape(p)}</p>\n" for p in (story.lead, *story.paragraphs))
    return f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{escape(story.title)} - Regional Wire</title>
<meta name="author" content="{escape(story.author)}">
<meta property="og:title" content="{escape(story.title)}">
<meta property="article:published_time" content="{story.published.isoformat()}">
<link rel="canonical" href="{escape(url)}">
</head><body>
<table width="100%"><tr><td colspan="2" class="top">REGIONAL WIRE | World | Business |
Markets | Weather | Subscribe</td></tr>
<tr><td class="story" valign="top">
<h2>{escape(story.title)}</h2>
<div class="dateline">{escape(story.author)}, {SITE_NAME[story.lang]} |
{human_date(story.lang, story.published)}</div>
<div class="partner-note">This story was first published by {SITE_NAME[story.lang]} and is
republished under a content-sharing agreement.</div>
{body}<div class="more">More from Regional Wire: Markets close mixed as oil slips | Weekend
weather: rain moves east</div>
</td><td class="right" valign="top"><b>Most read</b><ol>
<li>Grain corridor volumes up 8% in February</li><li>City council approves tram budget</li>
<li>Five things to know before the markets open</li></ol></td></tr>
<tr><td colspan="2" class="bottom">Copyright 2024 Regional Wire. Contact | Privacy |
Advertise</td></tr></table></body></html>
"""


def render_section(lang: str, links: list[tuple[str, str]]) -> str:
    """A section front page: navigation plus one link per (path, headline)."""
    items = "".join(f'<li><a href="{escape(p)}">{escape(t)}</a></li>\n' for p, t in links)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{SITE_NAME[lang]}</title></head>
<body>{_nav(lang)}<main><h1>{SITE_NAME[lang]}</h1><ul class="feed">
{items}</ul><a href="/private/drafts.html">Drafts</a> <a href="/rss.xml">RSS</a>
<a href="#top">Up</a></main>{_sidebar(lang)}</body></html>
"""
