"""robots.txt parsing per RFC 9309 and the mapping of fetch outcomes to rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.crawl.fetch import FetchResult, Outcome
from streams.crawl.robots import parse_robots, rules_from_fetch

ROBOTS = """\
# comment line
User-agent: *
Disallow: /private/
Allow: /private/open$
Disallow: /*.pdf$
Disallow: /search?
Crawl-delay: 2

User-agent: NewsStream
User-agent: otherbot
Disallow: /tmp/
Allow: /tmp/keep
Crawl-delay: 5

user-agent: newsstream
disallow: /also-merged/

Sitemap: https://example.com/sitemap.xml
"""


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/", True),
        ("/private/x", True),  # our own group replaces the * group entirely
        ("/tmp/x", False),
        ("/tmp/keep/a", True),  # longer Allow beats shorter Disallow
        ("/also-merged/a", False),  # groups naming the same agent are merged
        ("/robots.txt", True),
    ],
)
def test_specific_group_applies(path: str, allowed: bool) -> None:
    assert parse_robots(ROBOTS, "newsstream").allowed(path) is allowed


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/private/x", False),
        ("/private/open", True),
        ("/private/open/more", False),  # $ anchors the end
        ("/docs/a.pdf", False),
        ("/docs/a.pdf?x=1", True),
        ("/search?q=x", False),
        ("/search", True),
        ("/tmp/x", True),
    ],
)
def test_star_group_applies_to_unknown_agents(path: str, allowed: bool) -> None:
    assert parse_robots(ROBOTS, "somebot").allowed(path) is allowed


def test_crawl_delay_and_sitemaps() -> None:
    assert parse_robots(ROBOTS, "newsstream").crawl_delay == 5
    assert parse_robots(ROBOTS, "somebot").crawl_delay == 2
    assert parse_robots(ROBOTS, "x").sitemaps == ("https://example.com/sitemap.xml",)


def test_allow_wins_a_tie_and_percent_encoding_is_normalised() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /page\nAllow: /page\nDisallow: /новини/\n", "a")
    assert rules.allowed("/page")
    assert not rules.allowed("/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/1")
    assert not rules.allowed("/новини/1")


def test_empty_disallow_allows_everything() -> None:
    assert parse_robots("User-agent: *\nDisallow:\n", "a").allowed("/anything")


def _result(outcome: Outcome, status: int | None, body: bytes = b"") -> FetchResult:
    return FetchResult(
        url="https://example.com/robots.txt",
        final_url="https://example.com/robots.txt",
        redirects=(),
        status=status,
        outcome=outcome,
        reason=None,
        headers={},
        body=body,
        fetched_at=datetime.now(UTC),
        elapsed_s=0.0,
    )


@pytest.mark.parametrize(
    ("outcome", "status", "allowed", "from_error"),
    [
        ("http_error", 404, True, False),  # 4xx: no robots.txt, everything allowed
        ("http_error", 403, True, False),
        ("http_error", 429, False, True),  # slow down: treat as unreachable
        ("http_error", 500, False, True),  # 5xx: disallow everything
        ("http_error", 503, False, True),
        ("timeout", None, False, True),
        ("blocked", None, False, True),
        ("error", None, False, True),
        ("too_large", 200, False, True),
    ],
)
def test_fetch_outcomes_map_to_rules(
    outcome: Outcome, status: int | None, allowed: bool, from_error: bool
) -> None:
    rules, error = rules_from_fetch(_result(outcome, status), "newsstream")
    assert rules.allowed("/news/1") is allowed
    assert error is from_error


def test_fetched_body_is_parsed() -> None:
    body = b"User-agent: *\nDisallow: /private/\n"
    rules, error = rules_from_fetch(_result("fetched", 200, body), "newsstream")
    assert not error
    assert not rules.allowed("/private/a")
    assert rules.allowed("/public")
