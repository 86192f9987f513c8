"""The publisher's own section (rubric): meta tags, JSON-LD, breadcrumbs, URL path, in order."""

from __future__ import annotations

import json

import pytest
from selectolax.lexbor import LexborHTMLParser

from streams.clean.metadata import rubric, rubric_from_url
from streams.clean.stage import page_to_article
from tests.conftest import make_raw

URL = "https://daily.example/2025/09/08/council-approves-budget"
TEXT = " ".join(
    f"Sentence number {i} of the article says that the council approved the new budget today."
    for i in range(12)
)


def page(head: str = "", body: str = "") -> LexborHTMLParser:
    return LexborHTMLParser(
        f"<html><head><title>Council approves budget</title>{head}</head>"
        f"<body>{body}<article><h1>Council approves budget</h1><p>{TEXT}</p></article>"
        "</body></html>"
    )


def jsonld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.mark.parametrize(
    "tag",
    [
        '<meta property="article:section" content="  Local   Politics ">',
        '<meta name="article:section" content="Local Politics">',
        '<meta name="section" content="Local Politics">',
        '<meta itemprop="articleSection" content="LOCAL POLITICS">',
    ],
)
def test_section_meta_tags(tag: str) -> None:
    assert rubric(page(tag), URL) == "local politics"


def test_jsonld_article_section_string_in_graph() -> None:
    data = {"@graph": [{"@type": "WebPage"}, {"@type": "NewsArticle", "articleSection": "Sport"}]}
    assert rubric(page(jsonld(data)), URL) == "sport"


def test_jsonld_article_section_list_takes_the_first() -> None:
    data = {"@type": "NewsArticle", "articleSection": ["", "Економіка", "Бізнес"]}
    assert rubric(page(jsonld(data)), URL) == "економіка"


def test_jsonld_breadcrumbs_skip_home_and_the_article() -> None:
    crumbs = [
        {"@type": "ListItem", "position": 3, "name": "Council approves budget", "item": URL},
        {"@type": "ListItem", "position": 1, "name": "Главная", "item": "https://daily.example/"},
        {
            "@type": "ListItem",
            "position": 2,
            "item": {"@id": "https://daily.example/kriminal/", "name": "Криминал"},
        },
    ]
    data = {"@type": "BreadcrumbList", "itemListElement": crumbs}
    assert rubric(page(jsonld(data)), URL) == "криминал"


def test_jsonld_breadcrumbs_ending_at_the_section() -> None:
    crumbs = [
        {"@type": "ListItem", "position": 1, "name": "Home", "item": "https://daily.example/"},
        {"@type": "ListItem", "position": 2, "name": "World", "item": "https://daily.example/w/"},
    ]
    data = {"@type": ["BreadcrumbList"], "itemListElement": crumbs}
    assert rubric(page(jsonld(data)), URL) == "world"


def test_html_breadcrumb_nav_takes_the_last_link_that_is_not_home() -> None:
    nav = (
        '<nav aria-label="Breadcrumb"><a href="/">Daily</a> › <a href="/news/">Новини</a>'
        ' › <a href="/news/kyiv/">Київ</a> › <span>Council approves budget</span></nav>'
    )
    assert rubric(page(body=nav), URL) == "київ"


def test_html_breadcrumb_skips_a_link_to_the_article_itself() -> None:
    crumbs = (
        '<ol class="breadcrumbs"><li><a href="/uk/">Головна</a></li>'
        '<li><a href="/uk/culture/">Культура</a></li>'
        f'<li><a href="{URL}">A link to this very page</a></li></ol>'
    )
    assert rubric(page(body=crumbs), URL) == "культура"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.ua/kriminal/2025/09/08/some-title.html", "kriminal"),
        ("https://example.ua/ru/news/proisshestviya/123456-title", "proisshestviya"),
        ("https://example.com/uk/novyny/v-mire/some-long-story-about-things", "v-mire"),
        ("https://example.com/World/story-slug?utm_source=x", "world"),
        ("https://example.com/news/some-article-slug", None),
        ("https://example.com/some-article-slug/", None),
        ("https://example.com/ru/2025/09/08/12345", None),
        ("https://example.com/amp/post/an-article-slug-that-is-long/123", None),
        ("", None),
        (None, None),
    ],
)
def test_url_path_segment(url: str | None, expected: str | None) -> None:
    assert rubric_from_url(url) == expected
    if url is not None:
        assert rubric(page(), url) == expected


def test_meta_beats_jsonld_breadcrumbs_and_url() -> None:
    crumbs = {"@type": "BreadcrumbList", "itemListElement": [{"position": 1, "name": "Crumb"}]}
    tree = page('<meta property="article:section" content="Meta">' + jsonld(crumbs))
    assert rubric(tree, "https://x.example/kriminal/title") == "meta"


def test_jsonld_section_beats_breadcrumbs() -> None:
    crumbs = {"@type": "BreadcrumbList", "itemListElement": [{"position": 1, "name": "Crumb"}]}
    tree = page(jsonld(crumbs) + jsonld({"articleSection": "Section"}))
    assert rubric(tree, URL) == "section"


def test_malformed_jsonld_is_ignored() -> None:
    tree = page('<script type="application/ld+json">{"articleSection": "Broken",</script>'
                + jsonld({"articleSection": "Good"}))  # fmt: skip
    assert rubric(tree, URL) == "good"
    broken = page('<script type="application/ld+json">{not json</script>')
    assert rubric(broken, "https://x.example/kriminal/title") == "kriminal"


def test_long_section_is_cut_to_80_characters() -> None:
    found = rubric(page(f'<meta name="section" content="{"word " * 40}">'), URL)
    assert found is not None
    assert len(found) <= 80
    assert found.startswith("word word")


def test_nothing_found_is_none() -> None:
    assert rubric(page(), URL) is None


def test_clean_stage_fills_the_article_rubric() -> None:
    html = (
        "<html><head><title>Council approves budget</title>"
        '<meta property="article:section" content="Politics"></head><body>'
        f"<article><h1>Council approves budget</h1><p>{TEXT}</p></article></body></html>"
    )
    article = page_to_article(make_raw(html, URL))
    assert article.rubric == "politics"
    # The field travels in the record's JSON.
    assert json.loads(article.to_json())["rubric"] == "politics"


def test_clean_stage_plain_text_page_uses_the_url_path() -> None:
    raw = make_raw(TEXT, "https://x.example/ru/kriminal/title", content_type="text/plain")
    assert page_to_article(raw).rubric == "kriminal"
    raw = make_raw(TEXT, "https://x.example/title", content_type="text/plain")
    assert page_to_article(raw).rubric is None


def test_generic_section_gives_way_to_the_next_source() -> None:
    tree = page('<meta property="article:section" content="News">')
    assert rubric(tree, "https://x.example/news/politics/title") == "politics"


def test_clean_stage_reads_breadcrumbs_before_nav_is_pruned() -> None:
    html = (
        "<html><head><title>Council approves budget</title></head><body>"
        '<nav class="breadcrumbs"><a href="/">Home</a> / <a href="/local/">Local</a></nav>'
        f"<article><h1>Council approves budget</h1><p>{TEXT}</p></article></body></html>"
    )
    article = page_to_article(make_raw(html, "https://daily.example/2025/story-slug"))
    assert article.rubric == "local"
    assert "Home" not in article.text
