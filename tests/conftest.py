"""Shared fixtures: paths, and factories for records used across the suite."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.records import Article, RawPage
from streams.settings import Settings, load_settings
from streams.topology import Topology, build_topology

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEWSSTREAM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(state_dir=tmp_path / "state")


@pytest.fixture
def topology(settings: Settings) -> Topology:
    return build_topology(settings, ["diplomacy", "crime", "infrastructure"])


def make_raw(
    html: str | bytes,
    url: str = "https://example.com/news/1",
    *,
    article_id: str = "0123456789abcdef0123456789abcdef",
    content_type: str | None = "text/html; charset=utf-8",
) -> RawPage:
    body = html.encode() if isinstance(html, str) else html
    return RawPage(
        article_id=article_id,
        url=url,
        final_url=url,
        status=200,
        fetched_at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        source_id="test",
        content_type=content_type,
        body_b64=RawPage.encode_body(body),
    )


def make_article(text: str, *, article_id: str = "aa" * 16, **kw: object) -> Article:
    from streams.dedup.fingerprint import fingerprint
    from streams.identity import content_hash

    fields: dict[str, object] = {
        "article_id": article_id,
        "url": f"https://example.com/{article_id}",
        "canonical_url": f"https://example.com/{article_id}",
        "source_id": "test",
        "title": "Title",
        "text": text,
        "fetched_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        "content_hash": content_hash(text),
        "fingerprint": fingerprint(text),
        "language": "en",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]
