from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from streams.clean.extract import Extracted, extract
from streams.clean.metric import aggregate, score_page

ARTICLE = " ".join(
    f"Sentence number {i} of the article says that the council approved the new budget today."
    for i in range(12)
)
PAGE = f"""<html lang="en"><head><title>Council approves budget | Daily</title>
<meta property="og:title" content="Council approves budget">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2024-03-12T10:00:00Z">
<link rel="canonical" href="/news/budget">
<link rel="alternate" hreflang="uk" href="https://daily.example/uk/news/budget">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Council approves budget</h1><p>{ARTICLE}</p><p>{ARTICLE}</p>
<img src="a.jpg"></article>
<div class="related"><a href="/1">Other story one</a><a href="/2">Other story two</a></div>
<footer>© Daily 2024. All rights reserved.</footer></body></html>"""


def test_extracts_article_and_metadata() -> None:
    result = extract(PAGE.encode(), url="https://daily.example/news/budget?utm=1")
    assert ARTICLE in result.text
    assert "Other story" not in result.text
    assert "All rights" not in result.text
    assert result.title == "Council approves budget"
    assert result.author == "Jane Doe"
    assert result.published is not None
    assert result.published.year == 2024
    assert result.language == "en"
    assert result.canonical_url == "https://daily.example/news/budget"
    assert result.alternates == {"uk": "https://daily.example/uk/news/budget"}
    assert result.image_count == 1
    assert result.extractor == "density"


SHORT = "Three people died in a blast at a chemical plant, the agency said on Thursday. " * 4


def test_schema_org_article_body_beats_a_longer_comment_rules_box() -> None:
    rules = "".join(
        f"<p>Rule {i}: users must write politely and respect the other readers of the site.</p>"
        for i in range(20)
    )
    html = (
        f"<html><body><div itemprop='articleBody'><p>{SHORT}</p></div>"
        f"<div class='modal comment_rules'>{rules}</div></body></html>"
    )
    text = extract(html).text
    assert "chemical plant" in text
    assert "Rule 3" not in text


def test_teaser_rows_between_spacer_rows_are_not_the_article() -> None:
    row = (
        "<tr><td><a href='/{i}'>{head}</a>"
        "<p>.</p>Summary of that other story, a sentence or two about what happened there "
        "yesterday and what the officials said about it afterwards.</td></tr>"
        "<tr><td><div>.</div></td></tr>"
    )
    # One card has a headline too short to count: the spacer rows must not outvote the cards.
    heads = ["Brief news", *(f"Headline number {i} of another story" for i in range(1, 10))]
    teasers = "".join(row.format(i=i, head=h) for i, h in enumerate(heads))
    html = (
        f"<html><body><div><div><p>{SHORT}</p></div>"
        f"<div><table><tbody>{teasers}</tbody></table></div></div></body></html>"
    )
    text = extract(html).text
    assert "chemical plant" in text
    assert "other story" not in text


def test_future_date_is_dropped() -> None:
    page = PAGE.replace("2024-03-12T10:00:00Z", "2999-01-01T00:00:00Z")
    assert extract(page).published is None


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", bytes(range(256)) * 100, "<html><body></body></html>", "\x00\x01\x02"],
)
def test_bad_input_gives_empty_text(data: str | bytes) -> None:
    result = extract(data)
    assert isinstance(result, Extracted)
    assert result.text == ""


def test_deeply_nested_tags() -> None:
    html = "<div>" * 50000 + "deep text" + "</div>" * 50000
    assert isinstance(extract(html).text, str)


def test_huge_page_does_not_raise() -> None:
    html = "<html><body>" + "<p>" + "word " * 40 + "</p>" * 1 + ("<span>x</span>" * 1_500_000)
    assert len(html) > 20_000_000
    assert isinstance(extract(html.encode()), Extracted)


# The targets, not our own figures minus a margin: at least trafilatura's best published F1 on
# the English set (0.962, fast=True, shared/data/README.md) and clearly above its 0.771 on the
# Russian one. Measured 0.977 / 0.871 (bench/extraction.py). Quality only, never speed.
THRESHOLDS = {"aeb": 0.962, "daniel-ru": 0.85}


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_quality_on_shared_sets(shared: Path, name: str) -> None:
    folder = shared / "extraction" / name
    truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
    scores = []
    for key, item in truth.items():
        raw = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        scores.append(score_page(item["articleBody"], extract(raw).text))
    assert aggregate(scores).f1 >= THRESHOLDS[name]
