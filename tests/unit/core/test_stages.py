"""Stage functions and the agent shell, without a broker."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from streams.app.shell import StageShell
from streams.dedup.pipeline import DedupSteps
from streams.records import Article, ClassifiedArticle, DeadLetter, DuplicateEvent, SourceRef
from streams.stage import Emit, StageResult
from streams.topology import DEDUP_HASH
from tests.conftest import make_article

ORIGIN = SourceRef(topic="news.clean", partition=0, offset=42)
STORY = (
    "The foreign ministers of the two countries met in Geneva on Tuesday to discuss the "
    "prisoner exchange and the reopening of the embassies, officials said after the talks. "
) * 6


class TwoSteps(DedupSteps):
    """The stream's dedup stages (URL, hash, band, gather), one partition each: what the URL
    step forwards goes through the others."""

    name = "dedup_url"

    def __init__(self, window_s: float = 7 * 86400) -> None:
        super().__init__(window_s)


def dedup() -> TwoSteps:
    return TwoSteps()


def run(stage: TwoSteps, article: Article) -> StageResult:
    return stage(article.article_id.encode(), article.to_json(), ORIGIN)


def test_new_then_same_url_unchanged_is_duplicate_then_changed_is_revision() -> None:
    stage = dedup()
    first = make_article(STORY)
    assert run(stage, first).outcome == "new"
    # Fetched again later, unchanged (the same fetch again would be a redelivery).
    again = run(
        stage, first.model_copy(update={"fetched_at": first.fetched_at + timedelta(hours=1)})
    )
    assert again.outcome == "duplicate"
    event = DuplicateEvent.from_json(again.emits[0].value)
    assert (event.duplicate_of, event.reason) == (first.article_id, "same_url")
    edited = make_article(STORY + " Updated: the talks will continue on Friday.")
    result = run(stage, edited)
    assert result.outcome == "revision"
    assert Article.from_json(result.emits[0].value).revision == 1


def test_reprint_on_another_site_is_a_duplicate_and_different_story_is_new() -> None:
    stage = dedup()
    assert run(stage, make_article(STORY, article_id="a1" * 16)).outcome == "new"
    copy = run(stage, make_article(STORY, article_id="b2" * 16))
    assert DuplicateEvent.from_json(copy.emits[0].value).reason == "same_content"
    near = make_article(STORY.replace("Tuesday", "Wednesday", 1), article_id="c3" * 16)
    near_result = run(stage, near)
    assert near_result.outcome == "duplicate"
    assert DuplicateEvent.from_json(near_result.emits[0].value).reason == "near_duplicate"
    other = make_article(
        "Police arrested two suspects after a robbery at a bank. " * 8, article_id="d4" * 16
    )
    assert run(stage, other).outcome == "new"


class RecordingOutput:
    """Stands in for DurableProducer: the shell's contract is only what it sends."""

    def __init__(self) -> None:
        self.sent: list[Emit] = []

    async def send_all(self, emits: list[Emit], *, stage: str) -> None:
        self.sent.extend(emits)


class Exploding:
    name = "boom"

    def __call__(self, key: Any, value: bytes, origin: SourceRef) -> StageResult:
        raise ZeroDivisionError("bug in a stage")


@pytest.mark.parametrize(
    ("stage", "value", "reason"),
    [
        (dedup(), b"{not json", "malformed"),
        (dedup(), None, "malformed"),
        (Exploding(), b"{}", "internal_error"),
    ],
)
async def test_shell_dead_letters_with_reason_and_origin(
    stage: Any, value: Any, reason: str
) -> None:
    out = RecordingOutput()
    outcome = await StageShell(stage, out).handle(b"k", value, ORIGIN)  # type: ignore[arg-type]
    assert outcome == "dead_letter"
    (emit,) = out.sent
    letter = DeadLetter.from_json(emit.value)
    assert emit.topic == "news.dlq"
    assert (letter.reason, letter.origin) == (reason, ORIGIN)
    expected = "" if value is None else base64.b64encode(value).decode()
    assert letter.payload_b64 == expected


async def test_a_replayed_record_that_fails_again_says_how_often_it_was_replayed() -> None:
    from streams.kafka.deadletter import REPLAYS_HEADER, replay_headers, replays_of

    out = RecordingOutput()
    outcome = await StageShell(dedup(), out).handle(b"k", b"{not json", ORIGIN, replays=2)  # type: ignore[arg-type]
    assert outcome == "dead_letter"
    assert DeadLetter.from_json(out.sent[0].value).replays == 2
    assert replays_of(replay_headers(3)) == 3
    assert replays_of([(REPLAYS_HEADER, b"junk")]) == 0
    assert replays_of(None) == 0


async def test_a_dead_letter_always_fits_the_dlq_a_huge_value_kept_as_prefix_size_and_hash() -> (
    None
):
    import hashlib

    from streams.kafka.deadletter import payload_limit

    limit = payload_limit(16 * 1024 * 1024)
    assert limit * 4 / 3 + 64 * 1024 <= 16 * 1024 * 1024  # base64 of the prefix + envelope fits
    huge = b"{" + b"x" * 3000
    out = RecordingOutput()
    outcome = await StageShell(dedup(), out, max_payload=1024).handle(b"k", huge, ORIGIN)  # type: ignore[arg-type]
    assert outcome == "dead_letter"
    letter = DeadLetter.from_json(out.sent[0].value)
    assert letter.payload_truncated
    assert base64.b64decode(letter.payload_b64) == huge[:1024]
    assert (letter.payload_size, letter.payload_sha256) == (
        len(huge),
        hashlib.sha256(huge).hexdigest(),
    )
    small = await StageShell(dedup(), out).handle(b"k", b"{", ORIGIN)  # type: ignore[arg-type]
    assert small == "dead_letter"
    whole = DeadLetter.from_json(out.sent[-1].value)
    assert not whole.payload_truncated
    assert base64.b64decode(whole.payload_b64) == b"{"


def test_route_sends_to_articles_desks_and_review() -> None:
    from streams.classify.stage import route

    art = make_article(STORY)
    base = art.model_dump(exclude={"kind"})
    sure = ClassifiedArticle(**base, topics=["diplomacy"], scores={"diplomacy": 0.9})
    unsure = ClassifiedArticle(**base, topics=[], scores={"diplomacy": 0.1})
    desks = frozenset({"diplomacy", "crime"})
    assert [e.topic for e in route(sure, desks, 0.35)] == ["news.articles", "news.topic.diplomacy"]
    assert [e.topic for e in route(unsure, desks, 0.35)] == ["news.articles", "news.review"]


def test_two_step_dedup_catches_a_copy_whose_url_hashed_to_another_partition() -> None:
    from streams.dedup.detector import Deduplicator
    from streams.dedup.stage import DedupUrlStage

    # Two URL-step instances stand for two partitions of news.clean, each with its own state;
    # the content steps see both because news.dedup.hash is keyed by language and content
    # hash, news.dedup.bands by language and band.
    part_a = DedupUrlStage(Deduplicator({}, {}, {}, window_s=86400))
    part_b = DedupUrlStage(Deduplicator({}, {}, {}, window_s=86400))
    content = DedupSteps(window_s=86400)

    def through(url_step: DedupUrlStage, article: Article) -> StageResult:
        step1 = url_step(None, article.to_json(), ORIGIN)
        assert step1.emits[0].topic == DEDUP_HASH
        assert step1.emits[0].key == f"en|{article.content_hash}".encode()
        (out,) = content.run(step1.emits[0])
        return StageResult("duplicate" if out.topic == "news.duplicates" else step1.outcome, [out])

    original = make_article(STORY, article_id="a1" * 16)
    copy = make_article("Breaking. " + STORY + " Share this.", article_id="b2" * 16)
    assert through(part_a, original).outcome == "new"
    result = through(part_b, copy)
    assert result.outcome == "duplicate"
    event = DuplicateEvent.from_json(result.emits[0].value)
    assert (event.duplicate_of, event.reason) == (original.article_id, "near_duplicate")
    # A re-fetch of the same URL (fetched later: the same fetch again is a redelivery, see
    # tests/unit/dedup/test_redelivery.py) is caught by step 1 on its own partition.
    refetch = original.model_copy(update={"fetched_at": original.fetched_at + timedelta(hours=1)})
    assert part_a(None, refetch.to_json(), ORIGIN).outcome == "duplicate"
    revised = make_article(STORY + " Updated: talks resume on Friday.", article_id="a1" * 16)
    assert through(part_a, revised).outcome == "revision"
