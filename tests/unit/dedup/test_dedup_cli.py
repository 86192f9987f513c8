"""dedup_lines over Article JSON lines and over plain text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from streams.dedup.cli import dedup_lines
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
