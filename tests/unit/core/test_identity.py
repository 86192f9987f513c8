"""Spellings of one URL give one canonical URL and one article id."""

from __future__ import annotations

import re

import pytest

from streams.identity import CanonicalURLError, article_id, canonicalize

TABLE = [
    ("HTTP://Example.COM/news/1", "http://example.com/news/1"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?utm_source=tg&utm_medium=social&id=5", "https://example.com/a?id=5"),
    ("https://example.com/a?fbclid=IwAR0&gclid=xyz&yclid=1&b=2", "https://example.com/a?b=2"),
    ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1&a=0", "https://example.com/a?a=0&a=1&b=2"),
    ("https://example.com/a?", "https://example.com/a"),
    ("https://example.com/news/", "https://example.com/news"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/%7euser", "https://example.com/~user"),
    ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
    ("https://example.com/café", "https://example.com/caf%C3%A9"),
    ("https://user:pw@example.com/a", "https://example.com/a"),
    ("https://Новини.укр/a", "https://xn--b1amarcd.xn--j1amh/a"),
    ("https://example.com./a", "https://example.com/a"),
]


@pytest.mark.parametrize(("raw", "expected"), TABLE)
def test_canonical_form(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


def test_canonicalisation_is_idempotent() -> None:
    for raw, _ in TABLE:
        once = canonicalize(raw)
        assert canonicalize(once) == once


def test_spellings_share_an_article_id() -> None:
    a = canonicalize("HTTPS://Example.com:443/news/story/?utm_source=x&b=1&a=2#top")
    b = canonicalize("https://example.com/news/story?a=2&b=1&fbclid=abc")
    assert article_id(a) == article_id(b)
    assert re.fullmatch(r"[0-9a-f]{32}", article_id(a))


def test_article_id_is_stable() -> None:
    # Pinned: the id is a storage key, so it must never change for a given URL.
    assert article_id("https://example.com/a") == "2dce0a4c50441bfccfa9caf4b58c3cba"


@pytest.mark.parametrize("raw", ["ftp://example.com/a", "mailto:x@example.com", "https:///a"])
def test_non_http_urls_are_rejected(raw: str) -> None:
    with pytest.raises(CanonicalURLError):
        canonicalize(raw)
