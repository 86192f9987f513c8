"""Records valid in form but absurd in fact are malformed: they become dead letters, not data
(found by tests/integration/pipeline/test_hostile_input.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from streams.clean.stage import page_to_article
from streams.errors import ExtractionFailed, MalformedRecord
from streams.records import MAX_REVISION, ClassifiedArticle, RawPage, RubricStats
from tests.conftest import make_article, make_raw


def _article(**kw: object) -> bytes:
    art = make_article("Police detained two suspects after a robbery in the city centre.")
    data = art.model_dump(mode="json") | {"kind": "ClassifiedArticle"} | kw
    return orjson.dumps(data)


@pytest.mark.parametrize(
    "change",
    [
        {"fetched_at": "9999-12-31T23:59:59Z"},  # would expire every dedup entry of a partition
        {"published": (datetime.now(UTC) + timedelta(days=3)).isoformat()},
        {"classified_at": "9999-01-01T00:00:00Z"},
        {"revision": MAX_REVISION + 1},  # past the PostgreSQL integer column
        {"scores": {"crime": -3.0}},
        {"scores": {"crime": 1e300}},
        {"text": "x" * 1_000_001},
        {"title": "t" * 2_001},
        {"text": ""},
        {"content_hash": ""},
        {"language": "🙂" * 100},
    ],
)
def test_absurd_article_is_malformed(change: dict[str, object]) -> None:
    with pytest.raises(MalformedRecord):
        ClassifiedArticle.from_json(_article(**change))


def test_a_plausible_article_still_parses() -> None:
    tomorrow_morning = datetime.now(UTC) + timedelta(hours=12)  # clocks and time zones
    parsed = ClassifiedArticle.from_json(_article(published=tomorrow_morning.isoformat()))
    assert parsed.revision == 0


@pytest.mark.parametrize("sums", [{"sport": -1e9}, {"sport": 51.0}, {"sport": 1e300}])
def test_rubric_totals_outside_zero_to_count_are_malformed(sums: dict[str, float]) -> None:
    stats = RubricStats(source_id="s", rubric="r", group="g", writer="w", articles=50,
                        proba_sums={"sport": 1.0})  # fmt: skip
    data = stats.model_dump(mode="json") | {"proba_sums": sums}
    with pytest.raises(MalformedRecord):
        RubricStats.from_json(orjson.dumps(data))


def test_body_that_is_not_base64_is_malformed_not_an_internal_error() -> None:
    raw = make_raw("<p>x</p>").model_copy(update={"body_b64": "!!! not base64 !!!"})
    with pytest.raises(MalformedRecord):
        page_to_article(RawPage.from_json(raw.to_json()))


def test_page_with_a_million_characters_of_text_is_too_long() -> None:
    raw = make_raw(b"word " * 250_000, content_type="text/plain; charset=utf-8")
    with pytest.raises(ExtractionFailed) as caught:
        page_to_article(raw)
    assert caught.value.reason == "too_long"
