"""Dedup state in the stream shape: one shared table per step, sliced and expired per partition."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.dedup.detector import EXPIRE_EVERY_S, Deduplicator
from streams.dedup.pipeline import DedupSteps
from streams.dedup.stage import DedupHashStage, DedupUrlStage
from streams.dedup.state import PartitionView
from streams.records import Article, SourceRef
from tests.conftest import make_article

STORY = (
    "The city council approved the new budget on Tuesday after a long debate about schools, "
    "roads and the bridge over the river, which has been closed to lorries since the spring. "
    "The mayor said the repairs would start in May and take two years to finish."
)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(partition: int) -> SourceRef:
    return SourceRef(topic="news.clean", partition=partition, offset=0)


def article(aid: str, text: str = STORY, when: datetime = T0) -> Article:
    return make_article(text, article_id=aid * 16, fetched_at=when)


def test_partition_view_prefixes_and_filters_keys() -> None:
    table: dict[str, Any] = {"0|a": 1, "1|a": 2, "10|b": 3}
    view = PartitionView(table, 1)
    assert (view["a"], view.get("b"), sorted(view), len(view)) == (2, None, ["a"], 1)
    view["c"] = 4
    del view["a"]
    assert table == {"0|a": 1, "10|b": 3, "1|c": 4}


def test_url_step_state_is_bounded_by_the_window_per_partition() -> None:
    table: dict[str, Any] = {}
    window = 3600.0
    step = DedupUrlStage(Deduplicator(table, {}, {}, window_s=window))
    assert step(None, article("a1").to_json(), at(0)).outcome == "new"
    assert step(None, article("b2", STORY + " More.").to_json(), at(1)).outcome == "new"
    assert sorted(table) == [f"0|{'a1' * 16}", f"1|{'b2' * 16}"]
    # Later than window and expiry interval: an event on partition 0 expires partition 0 only,
    # so each deletion's changelog tombstone goes to the partition that holds the key.
    later = T0 + timedelta(seconds=window + EXPIRE_EVERY_S + 1)
    step(None, article("c3", "Another text entirely.", later).to_json(), at(0))
    assert sorted(table) == [f"0|{'c3' * 16}", f"1|{'b2' * 16}"]
    # The same URL after the window is new again, not a revision of a forgotten version.
    assert step(None, article("b2", "Changed.", later).to_json(), at(1)).outcome == "new"


def test_content_steps_forget_originals_after_the_window() -> None:
    steps = DedupSteps(window_s=3600.0)
    assert steps(None, article("a1").to_json(), at(0)).outcome == "new"
    assert steps(None, article("b2").to_json(), at(0)).outcome == "duplicate"
    later = T0 + timedelta(seconds=3600 + EXPIRE_EVERY_S + 1)
    assert steps(None, article("c3", when=later).to_json(), at(0)).outcome == "new"
    ids = [v["id"] for v in steps.hash_by_hash.values()]
    assert ids == ["c3" * 16]  # the expired original is gone from by_hash
    # and from every band: each holds the earliest article of the window, now c3
    assert {slot[1] for slots in steps.band_earliest.values() for slot in slots} == {"c3" * 16}


def test_state_in_the_changelog_format_reads_as_is() -> None:
    """Table values as faust's JSON codec gives them back on recovery (lists, not tuples; the
    keys written before the values were typed) drive the same decisions."""
    first = article("a1", STORY + " First version.", T0 - timedelta(hours=1))
    latest = article("a1", when=T0)
    entry = {
        "hash": latest.content_hash,
        "fp": latest.fingerprint,
        "rev": 1,
        "t": T0.timestamp(),
        "fp0": first.fingerprint,
        "seen": [[first.fetched_at.timestamp(), first.content_hash[:16], 0]],
    }
    recovered = json.loads(json.dumps({f"0|{latest.article_id}": entry}))
    step = DedupUrlStage(Deduplicator(recovered, {}, {}, window_s=86400))
    again = step(None, first.to_json(), at(0))  # the first version, redelivered
    assert (again.outcome, Article.from_json(again.emits[0].value).revision) == ("new", 0)
    later = article("a1", STORY + " Third version.", T0 + timedelta(minutes=5))
    assert Article.from_json(step(None, later.to_json(), at(0)).emits[0].value).revision == 2
    assert recovered[f"0|{latest.article_id}"]["seen"][0][2] == 1
    first_with_text = {"id": latest.article_id, "t": T0.timestamp()}
    by_hash = json.loads(json.dumps({f"0|en|{latest.content_hash}": first_with_text}))
    content = DedupHashStage(Deduplicator({}, by_hash, {}, window_s=86400))
    copy = article("b2", when=T0 + timedelta(minutes=6))
    assert content(b"en", copy.to_json(), at(0)).outcome == "duplicate"
