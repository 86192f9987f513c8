"""Saved pages for replay: URL from sidecar, canonical link, og:url, or a synthetic id."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from streams.crawl.backfill import (
    ReplaySkip,
    find_inputs,
    read_saved_page,
    synthetic_url,
    to_raw_page,
    url_in_html,
)


def test_url_from_canonical_then_og_url() -> None:
    assert url_in_html(b'<link href="https://a.test/x" rel="canonical">') == "https://a.test/x"
    og = b'<meta property="og:url" content="https://a.test/og">'
    assert url_in_html(og) == "https://a.test/og"
    assert url_in_html(b'<link rel="canonical" href="/rel">') is None
    assert (
        url_in_html(b'<link rel="canonical" href="/rel">', "https://b.test/")
        == "https://b.test/rel"
    )
    assert url_in_html(b"<p>nothing</p>") is None


def test_synthetic_url_is_stable_and_never_a_file_url(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    url = synthetic_url(root, root / "2024" / "page one.html")
    assert url == "https://replay.invalid/archive/2024/page%20one.html"
    assert to_raw_page(_saved(url), "s").article_id == to_raw_page(_saved(url), "s").article_id


def _saved(url: str):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from streams.crawl.backfill import Saved

    return Saved(url, b"<p>x</p>", datetime.now(UTC), "test")


def test_sidecars_and_caps(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<link rel="canonical" href="https://a.test/1">')
    (tmp_path / "a.html.json").write_text(
        '{"url": "https://side.test/a", "fetched_at": "2024-05-01T10:00:00"}'
    )
    (tmp_path / "bomb.html.gz").write_bytes(gzip.compress(b"\0" * 10_000))
    (tmp_path / "skip.txt").write_text("x")
    files = find_inputs([tmp_path])
    assert [f.name for f in files] == ["a.html", "bomb.html.gz"]
    page = read_saved_page(tmp_path / "a.html", tmp_path, 1000)
    assert page.url == "https://side.test/a"
    assert page.fetched_at.isoformat() == "2024-05-01T10:00:00+00:00"
    with pytest.raises(ReplaySkip, match="too_large"):
        read_saved_page(tmp_path / "bomb.html.gz", tmp_path, 1000)
