"""dedup_lines and `newsstream dedup` over Article JSON lines, URL objects and plain text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.dedup.cli import dedup_lines
from streams.errors import MalformedRecord
from streams.identity import article_id, canonicalize
from tests.conftest import make_article
from tests.unit.dedup.test_dedup_detector import UNRELATED, WIRE, WRITE_UP, reprint


def test_article_lines() -> None:
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    articles = [
        make_article(WIRE, article_id="a" * 32, fetched_at=t0),
        make_article(reprint(), article_id="b" * 32, fetched_at=t0 + timedelta(minutes=5)),
        make_article(WRITE_UP, article_id="c" * 32, fetched_at=t0 + timedelta(minutes=6)),
        make_article(WIRE, article_id="a" * 32, fetched_at=t0 + timedelta(minutes=7)),
        # An old-format (SimHash) fingerprint is recomputed from the text.
        make_article(
            reprint(),
            article_id="d" * 32,
            fingerprint="0123456789abcdef",
            fetched_at=t0 + timedelta(minutes=8),
        ),
    ]
    out = list(dedup_lines([a.to_json() for a in articles], window_s=3600))
    assert [o["decision"] for o in out] == ["new", "duplicate", "new", "duplicate", "duplicate"]
    assert [o["reason"] for o in out] == [
        None,
        "near_duplicate",
        None,
        "same_url",
        "near_duplicate",
    ]
    # Duplicates are not remembered, so a second copy of a copy points at the original.
    assert out[1]["duplicate_of"] == out[4]["duplicate_of"] == "a" * 32
    assert set(out[0]) >= {"article_id", "decision", "duplicate_of", "reason", "similarity"}


def test_plain_text_and_text_objects() -> None:
    lines = [WIRE.encode(), b"", orjson.dumps({"text": reprint()}), UNRELATED.encode()]
    out = list(dedup_lines(lines, window_s=3600))
    assert [o["decision"] for o in out] == ["new", "duplicate", "new"]
    assert out[1]["duplicate_of"] == out[0]["article_id"]


def _dedup_command(objects: list[dict[str, object]]) -> list[dict[str, Any]]:
    from click.testing import CliRunner

    from streams.cli import cli

    stdin = "".join(orjson.dumps(o).decode() + "\n" for o in objects)
    result = CliRunner().invoke(cli, ["dedup", "--window-s", "86400"], input=stdin)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.output.splitlines()]


def test_command_on_url_objects_reports_revisions_copies_and_new_texts() -> None:
    """Issue 10: a changed text at the same URL is a revision of it, not a copy of itself."""
    published = "2026-11-01T12:00:00+00:00"
    story = "https://news.example.com/2026/11/bridge?utm_source=feed"
    updated = WIRE.replace("The deputy mayor", "Update: the contract was signed. The deputy mayor")
    lines: list[dict[str, object]] = [
        {"url": story, "title": "Bridge", "text": WIRE, "language": "en", "published": published},
        # Another spelling of the same URL (tracking parameter gone, host case): same article.
        {
            "url": "https://NEWS.example.com/2026/11/bridge",
            "title": "Bridge (updated)",
            "text": updated,
            "language": "en",
            "published": published,
        },
        {
            "url": "https://copies.example.org/b",
            "title": "Bridge",
            "text": WIRE,
            "language": "en",
            "published": published,
        },
        {
            "url": "https://news.example.com/concert",
            "title": "Concert",
            "text": UNRELATED,
            "language": "en",
            "published": published,
        },
    ]
    out = _dedup_command(lines)
    first_id = article_id(canonicalize(story))  # the crawler's id of that URL
    assert [o["article_id"] for o in out[:2]] == [first_id, first_id]
    assert [(o["decision"], o["revision"]) for o in out] == [
        ("new", 0),
        ("revision", 1),
        ("duplicate", 0),
        ("new", 0),
    ]
    assert (out[2]["duplicate_of"], out[2]["reason"]) == (first_id, "same_content")
    assert out[1]["duplicate_of"] is None
    assert set(out[0]) >= {
        "article_id",
        "decision",
        "duplicate_of",
        "reason",
        "revision",
        "similarity",
    }


def test_given_ids_are_printed_as_given_and_a_bad_date_names_its_line() -> None:
    lines = [
        orjson.dumps({"id": "doc-1", "text": WIRE}),
        orjson.dumps({"id": "doc-2", "text": reprint()}),
    ]
    out = list(dedup_lines(lines, window_s=3600))
    assert [(o["article_id"], o["duplicate_of"]) for o in out] == [
        ("doc-1", None),
        ("doc-2", "doc-1"),
    ]
    bad = orjson.dumps({"url": "https://news.example.com/x", "text": WIRE, "published": "soon"})
    with pytest.raises(MalformedRecord, match="line 1: published"):
        list(dedup_lines([bad], window_s=3600))
