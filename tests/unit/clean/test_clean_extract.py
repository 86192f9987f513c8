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


# Measured figures (bench/extraction.py) minus a margin: a regression guard, not a speed test.
THRESHOLDS = {"aeb": 0.91, "daniel-ru": 0.80}


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
