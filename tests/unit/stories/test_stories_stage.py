"""The story stage as the worker runs it: StoryRequest in, the article with its story and the
story's summary out; state in two tables that survive a restart; redelivery idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from streams.classify.classifier import Classification
from streams.classify.encoder import ENCODER_NAME
from streams.classify.stage import ClassifyStage, to_classified
from streams.errors import MalformedRecord
from streams.records import ClassifiedArticle, SourceRef, StoryRequest, StorySummary
from streams.stage import StageResult
from streams.stories import Limits
from streams.stories.stage import EncoderMismatch, StoryStage, encode_vector
from streams.topology import ARTICLES, RUBRICS, STORIES, STORIES_ASSIGN
from tests.conftest import make_article
from tests.unit.stories.fakes import vector

ORIGIN = SourceRef(topic=STORIES_ASSIGN, partition=0, offset=0)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CLASSIFIED = Classification(
    topics=("diplomacy",),
    scores={"diplomacy": 0.9},
    iptc=("medtop:11000000",),
    evidence={},
    classifier_version="t",
)


class JsonTable(dict[str, Any]):
    """A dict that keeps what a faust table's JSON codec would give back."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, orjson.loads(orjson.dumps(value)))


def request(
    n: int,
    topic: str,
    *,
    url: str | None = None,
    language: str = "en",
    hours: float = 0.0,
    title: str = "Zelensky meets Macron in Paris",
    text: str = "Volodymyr Zelensky met Emmanuel Macron in Paris on 30 November.",
    encoder: str = ENCODER_NAME,
) -> bytes:
    aid = f"{n:032x}"
    art = make_article(
        text,
        article_id=aid,
        url=url or f"https://outlet{n}.example/news/{n}",
        canonical_url=url or f"https://outlet{n}.example/news/{n}",
        title=title,
        language=language,
        fetched_at=T0 + timedelta(hours=hours),
        source_id=f"outlet{n}",
    )
    v = vector(topic, 0.05, aid)
    return StoryRequest(
        article=to_classified(art, CLASSIFIED), vector=encode_vector(v), encoder=encoder
    ).to_json()


def stage(
    members: JsonTable | None = None, summaries: JsonTable | None = None, **kw: Any
) -> StoryStage:
    return StoryStage(
        members if members is not None else JsonTable(),
        summaries if summaries is not None else JsonTable(),
        frozenset({"diplomacy"}),
        0.35,
        **kw,
    )


def outputs(result: StageResult) -> tuple[ClassifiedArticle, StorySummary]:
    [art] = [ClassifiedArticle.from_json(e.value) for e in result.emits if e.topic == ARTICLES]
    [summary] = [StorySummary.from_json(e.value) for e in result.emits if e.topic == STORIES]
    [key] = [e.key for e in result.emits if e.topic == STORIES]
    assert key == summary.story_id.encode()
    return art, summary


def count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("newsstream_stories_assigned_total", {"outcome": outcome})
    return value or 0.0


def test_two_reports_share_a_story_and_its_summary_grows() -> None:
    s = stage()
    first, s1 = outputs(s(None, request(1, "summit", language="en"), ORIGIN))
    second, s2 = outputs(s(None, request(2, "summit", language="uk", hours=2), ORIGIN))
    other, s3 = outputs(
        s(None, request(3, "flood", title="Flood in Odesa", text="Rain flooded Odesa."), ORIGIN)
    )
    assert first.story_id == second.story_id == f"{1:032x}"
    assert other.story_id == f"{3:032x}" != first.story_id
    assert second.translation_of is None  # another outlet: a report, not a translation
    assert (s1.revision, s1.article_count, s2.revision, s2.article_count) == (1, 1, 2, 2)
    assert s2.languages == ["en", "uk"]
    assert s2.outlets == ["outlet1.example", "outlet2.example"]
    assert s2.representative == first.article_id
    assert s2.headline == first.title
    assert s2.first_seen == T0
    assert s2.last_seen == T0 + timedelta(hours=2)
    assert s2.desks == ["diplomacy"]
    assert s3.story_id == other.story_id
    assert s3.revision == 1


def test_translation_on_one_outlet_is_linked_and_shares_the_story() -> None:
    s = stage()
    uk, _ = outputs(s(None, request(1, "a", url="https://news.example/uk/2024/123456"), ORIGIN))
    ru_req = request(2, "a", url="https://news.example/ru/2024/123456", language="ru")
    before = count("translation")
    result = s(None, ru_req, ORIGIN)
    ru, summary = outputs(result)
    assert result.outcome == "translation"
    assert count("translation") == before + 1
    assert ru.translation_of == uk.article_id
    assert ru.story_id == uk.story_id
    assert summary.languages == ["en", "ru"]  # make_article's language stays for uk


def test_a_redelivery_repeats_its_answer_and_changes_nothing() -> None:
    members, summaries = JsonTable(), JsonTable()
    s = stage(members, summaries)
    s(None, request(1, "summit"), ORIGIN)
    second = request(2, "summit", hours=1)
    first = s(None, second, ORIGIN)
    kept = (dict(members), dict(summaries))
    before = count("redelivered")
    again = s(None, second, ORIGIN)
    assert again.outcome == "redelivered"
    assert count("redelivered") == before + 1
    assert again.emits == first.emits  # the same records, byte for byte
    assert outputs(again)[1].revision == 2
    assert (dict(members), dict(summaries)) == kept


def test_a_restart_rebuilds_the_window_from_the_tables() -> None:
    """A fresh stage over the same tables (a new worker after a rebalance) answers as the
    uninterrupted one: the same stories, linked to articles filed before the restart."""
    stream = [request(i, "summit" if i % 2 else "flood", hours=i) for i in range(1, 9)]
    straight = stage()
    expected = [outputs(straight(None, r, ORIGIN)) for r in stream]
    members, summaries = JsonTable(), JsonTable()
    before = stage(members, summaries)
    got = [outputs(before(None, r, ORIGIN)) for r in stream[:4]]
    after = stage(members, summaries)  # the old one is gone with its memory
    got += [outputs(after(None, r, ORIGIN)) for r in stream[4:]]
    assert [(a.story_id, s.revision, s.article_count) for a, s in got] == [
        (a.story_id, s.revision, s.article_count) for a, s in expected
    ]
    assert len({a.story_id for a, _ in got}) == 2
    # a redelivery of an article filed before the restart is recognised after it
    assert after(None, stream[1], ORIGIN).outcome == "redelivered"


def test_forget_rebuilds_from_the_tables_on_the_next_record() -> None:
    members, summaries = JsonTable(), JsonTable()
    s = stage(members, summaries)
    s(None, request(1, "summit"), ORIGIN)
    s.forget()
    members.clear()  # partitions moved away and back: the table is what counts
    summaries.clear()
    art, summary = outputs(s(None, request(2, "summit"), ORIGIN))
    assert art.story_id == f"{2:032x}"
    assert summary.revision == 1


def test_state_and_tables_stay_bounded_and_closed_stories_are_counted() -> None:
    members, summaries = JsonTable(), JsonTable()
    s = stage(members, summaries, limits=Limits(window_s=86_400.0))
    closed = REGISTRY.get_sample_value("newsstream_story_articles_count") or 0.0
    sizes = []
    for i in range(1, 121):  # 10 days, one story a day of 12 articles
        day = (i - 1) // 12
        s(None, request(i, f"day{day}", hours=day * 24 + (i % 12) / 12), ORIGIN)
        sizes.append((len(members), len(summaries)))
    assert max(m for m, _ in sizes[-48:]) <= 2 * 12 + 1
    assert max(n for _, n in sizes[-48:]) <= 3
    assert set(members) == set(s.assigner().state.members)
    assert set(summaries) == set(s.assigner().state.stories)
    after = REGISTRY.get_sample_value("newsstream_story_articles_count") or 0.0
    assert after - closed >= 7  # the stories of the days that left the window


def test_bad_requests_are_stage_errors() -> None:
    s = stage()
    with pytest.raises(MalformedRecord):
        s(None, b"{not json", ORIGIN)
    good = orjson.loads(request(1, "a"))
    with pytest.raises(MalformedRecord, match="bytes"):
        s(None, orjson.dumps(good | {"vector": "AAAA"}), ORIGIN)
    with pytest.raises(MalformedRecord, match="base64"):
        s(None, orjson.dumps(good | {"vector": "not base64!"}), ORIGIN)
    with pytest.raises(EncoderMismatch) as err:
        s(None, request(1, "a", encoder="other-model"), ORIGIN)
    assert err.value.reason == "encoder_mismatch"
    assert not s.members  # nothing filed by a bad record


def test_biggest_stories_of_the_last_hours() -> None:
    s = stage()
    for i in range(1, 4):
        s(None, request(i, "old", hours=i / 10), ORIGIN)
    for i in range(4, 6):
        s(None, request(i, "new", hours=10 + i / 10, title="Flood", text="Odesa flood."), ORIGIN)
    top = s.biggest(hours=6)
    assert [(t.story_id, t.article_count) for t in top] == [(f"{4:032x}", 2)]
    assert [t.article_count for t in s.biggest(hours=24)] == [3, 2]
    s.forget()  # partitions moved: nothing to say until a record comes
    assert s.biggest(hours=24) == []
    assert REGISTRY.get_sample_value("newsstream_stories_state", {"what": "articles"}) is None


def test_classify_hands_the_article_and_its_story_vector_to_the_story_stage() -> None:
    def fake(*_: object) -> Classification:
        return CLASSIFIED

    seen: list[tuple[str, str]] = []

    def story_vector(title: str, text: str) -> Any:
        seen.append((title, text))
        return vector("x")

    classify = ClassifyStage(
        frozenset({"diplomacy"}), 0.35, classifier=fake, story_vector=story_vector
    )
    art = make_article("Police said.", rubric="world")
    result = classify(b"k", art.to_json(), ORIGIN)
    assert [e.topic for e in result.emits] == [STORIES_ASSIGN]
    assert result.emits[0].key == art.article_id.encode()
    req = StoryRequest.from_json(result.emits[0].value)
    assert req.article.topics == ["diplomacy"]
    assert req.encoder == ENCODER_NAME
    assert seen == [(art.title, art.text)]
    story = stage()(None, result.emits[0].value, ORIGIN)
    assert [e.topic for e in story.emits] == [ARTICLES, "news.topic.diplomacy", STORIES]
    assert RUBRICS not in [e.topic for e in story.emits]


def test_an_article_older_than_the_window_is_answered_not_filed() -> None:
    """A backfilled page published days before the newest article: its own story, counted
    as late, nothing kept (it would leave the window at once)."""
    members, summaries = JsonTable(), JsonTable()
    s = stage(members, summaries, limits=Limits(window_s=86_400.0))
    s(None, request(1, "summit", hours=100), ORIGIN)
    before = count("late")
    result = s(None, request(2, "flood", hours=0, title="Flood", text="Odesa flood."), ORIGIN)
    art, summary = outputs(result)
    assert result.outcome == "late"
    assert count("late") == before + 1
    assert art.story_id == f"{2:032x}"
    assert (summary.revision, summary.article_count) == (1, 1)
    assert set(members) == {f"{1:032x}"}
    assert set(summaries) == {f"{1:032x}"}
