"""At-least-once redelivery: an input handled before a crash, whose offset commit was lost,
comes again and finds the state it wrote itself. It must get its first decision again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.dedup.detector import Deduplicator
from streams.dedup.pipeline import DedupSteps
from streams.dedup.stage import DedupUrlStage, article_signature
from streams.records import Article, SourceRef
from tests.conftest import make_article

STORY = (
    "The city council approved the new budget on Tuesday after a long debate about schools, "
    "roads and the bridge over the river, which has been closed to lorries since the spring. "
    "The mayor said the repairs would start in May and take two years to finish."
)
MORE = (
    " Residents asked for a temporary ferry, and the council promised to study the idea. "
    "Lorry drivers say the detour adds an hour to every trip to the port and costs them fuel. "
    "Shop owners near the bridge reported falling sales since the closure began in April."
)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(offset: int, topic: str = "news.clean") -> SourceRef:
    return SourceRef(topic=topic, partition=0, offset=offset)


def url_step() -> DedupUrlStage:
    return DedupUrlStage(Deduplicator({}, {}, {}, window_s=86400))


def test_url_step_redelivered_fetch_gets_its_first_decision_not_same_url() -> None:
    step = url_step()
    first = make_article(STORY, fetched_at=T0)
    assert step(None, first.to_json(), at(5)).outcome == "new"
    # Redelivered (same offset), or re-emitted by clean as a new record (a later offset).
    for offset in (5, 9):
        again = step(None, first.to_json(), at(offset))
        assert again.outcome == "new"  # forwarded again: its first output may never have left
        assert Article.from_json(again.emits[0].value).revision == 0
    # A re-fetch (fetched later) with the same text is a duplicate; a changed text a revision.
    refetch = make_article(STORY, fetched_at=T0 + timedelta(minutes=1))
    assert step(None, refetch.to_json(), at(10)).outcome == "duplicate"
    revised = make_article(STORY + MORE, fetched_at=T0 + timedelta(minutes=5))
    assert step(None, revised.to_json(), at(11)).outcome == "revision"
    # Both versions again after the crash: each keeps its revision number, nothing flips.
    old = step(None, first.to_json(), at(5))
    new = step(None, revised.to_json(), at(11))
    assert [Article.from_json(r.emits[0].value).revision for r in (old, new)] == [0, 1]
    later = make_article(STORY, fetched_at=T0 + timedelta(minutes=9))
    assert step(None, later.to_json(), at(12)).outcome == "revision"  # back to the old text


def test_content_steps_redelivered_original_does_not_flip_to_a_copy_of_a_later_text() -> None:
    steps = DedupSteps(window_s=86400)
    short = make_article(STORY, article_id="a1" * 16, fetched_at=T0)
    # Twice as long and containing all of the short text: new (it adds text), not a copy.
    longer = make_article(STORY + MORE + MORE, article_id="b2" * 16, fetched_at=T0)
    assert steps(None, short.to_json(), at(1)).outcome == "new"
    assert steps(None, longer.to_json(), at(2)).outcome == "new"
    # A look at the short text against every article of its first band, order ignored, now
    # finds it inside the longer one ...
    sig = article_signature(short)
    (slots,) = [v for k, v in steps.band_earliest.items() if k.endswith(sig.band_keys()[0])]
    everyone = [*slots, [T0.timestamp(), longer.article_id, longer.fingerprint]]
    found = steps.band_step.match(sig, [s for s in everyone if s[1] != short.article_id])
    assert found is not None
    assert found[2] == "b2" * 16
    # ... but its redelivery keeps the decision it got: still the original (only articles
    # before it in (fetch time, id) order can be its original).
    assert steps(None, short.to_json(), at(1)).outcome == "new"
    assert steps(None, longer.to_json(), at(2)).outcome == "new"
