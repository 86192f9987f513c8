"""The band and gather steps: the decision does not depend on which band answers first, late
bands are decided without after a timeout, and redelivery gives the first decision again."""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from streams.dedup.band_step import DedupBandStage
from streams.dedup.gather import DedupGatherStage
from streams.dedup.stage import article_signature, band_probes
from streams.records import Article, DuplicateEvent, GatherTimeout, PendingArticle, SourceRef
from streams.stage import Emit
from streams.topology import DEDUP_GATHER, DUPLICATES, UNIQUE
from tests.conftest import make_article
from tests.unit.dedup.test_dedup_detector import UNRELATED, WIRE, reprint

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
offsets = itertools.count()


def at(topic: str) -> SourceRef:
    return SourceRef(topic=topic, partition=0, offset=next(offsets))


def probes(article: Article) -> list[Emit]:
    return band_probes(article, article_signature(article), answer=True)


def verdicts(band: DedupBandStage, emits: list[Emit]) -> list[Emit]:
    return [v for e in emits for v in band(e.key, e.value, at("news.dedup.bands")).emits]


def gather_all(gather: DedupGatherStage, article: Article, emits: list[Emit]) -> list[Emit]:
    """The article's pending record and ``emits`` to the gather step, and what it sends to its
    own topic (queries about a later match, replies); the decisions that come out."""
    pending = PendingArticle(article=article, bands=len(probes(article)))
    return deliver(gather, [Emit.record(DEDUP_GATHER, article.article_id, pending), *emits])


def deliver(gather: DedupGatherStage, emits: Iterable[Emit]) -> list[Emit]:
    """Records to the gather step, and what it sends to its own topic (queries, replies), first
    in, first out; the decisions that come out."""
    queue = deque(emits)
    out: list[Emit] = []
    while queue:
        e = queue.popleft()
        result = gather(e.key, e.value, at(DEDUP_GATHER))
        queue.extend(x for x in result.emits if x.topic == DEDUP_GATHER)
        out += [x for x in result.emits if x.topic in (UNIQUE, DUPLICATES)]
    return out


def gather_stage(clock: list[float] | None = None) -> DedupGatherStage:
    now = clock or [0.0]
    return DedupGatherStage({}, {}, window_s=86400, timeout_s=30, clock=lambda: now[0])


def test_the_same_decision_whichever_band_answers_first_and_whatever_arrives_first() -> None:
    """Two copies and an original: earliest (time, then id) is the original; bands delivered
    in any order (band by band, article by article) give the same decisions. (An article that
    found a later-fetched copy before it asks what became of it: test_arrival_order.py. Here
    the original is gathered first and keeps itself either way.)"""
    original = make_article(WIRE, article_id="c3" * 16, fetched_at=T0)
    # Two copies fetched at the same second: the tie goes to the smaller id.
    copy_a = make_article(reprint(), article_id="a1" * 16, fetched_at=T0 + timedelta(seconds=5))
    copy_b = make_article(reprint(), article_id="b2" * 16, fetched_at=T0 + timedelta(seconds=5))
    outcomes = set()
    for seed in range(6):
        rng = random.Random(seed)
        band = DedupBandStage({}, window_s=86400)
        gather = gather_stage()
        everything = [(a, p) for a in (original, copy_a, copy_b) for p in probes(a)]
        rng.shuffle(everything)  # each band key sees the three articles in its own order
        answers: dict[str, list[Emit]] = {}
        for article, probe in everything:
            answers.setdefault(article.article_id, []).extend(verdicts(band, [probe]))
        decided = {}
        for article in (original, copy_a, copy_b):
            (out,) = gather_all(gather, article, answers[article.article_id])
            named = (
                DuplicateEvent.from_json(out.value).duplicate_of
                if out.topic == DUPLICATES
                else None
            )
            decided[article.article_id] = named
        outcomes.add(tuple(sorted(decided.items())))
    # Deterministic: the original is new, each copy names an article before it. The copies
    # share the text of the reprint, so copy_b (after copy_a in the order) may name either
    # the original or copy_a: whichever scores higher, the same in every run.
    assert len(outcomes) == 1
    (decided,) = [dict(o) for o in outcomes]
    assert decided[original.article_id] is None
    assert decided[copy_a.article_id] == original.article_id
    assert decided[copy_b.article_id] in (original.article_id, copy_a.article_id)


def test_late_bands_are_decided_without_after_the_timeout_and_counted() -> None:
    from streams.metrics import DEDUP_LATE_BANDS

    clock = [100.0]
    band, gather = DedupBandStage({}, window_s=86400), gather_stage(clock)
    original = make_article(WIRE, article_id="a1" * 16, fetched_at=T0)
    gather_all(gather, original, verdicts(band, probes(original)))
    copy = make_article(reprint(), article_id="b2" * 16, fetched_at=T0 + timedelta(minutes=1))
    answers = verdicts(band, probes(copy))
    assert gather_all(gather, copy, answers[:10]) == []  # 22 bands still out: waiting
    assert gather.due() == []  # not late yet
    clock[0] += 31
    (timeout,) = gather.due()
    assert gather.due() == []  # asked once per timeout
    before = DEDUP_LATE_BANDS._value.get()
    out = gather(timeout.key, timeout.value, at("news.dedup.gather"))
    assert DEDUP_LATE_BANDS._value.get() - before == len(answers) - 10
    assert out.outcome in ("duplicate_late", "new_late")
    # The late verdicts, when they come, change nothing and emit nothing.
    for v in answers[10:]:
        assert gather(v.key, v.value, at("news.dedup.gather")).outcome == "late"


def test_redelivered_records_give_the_first_decision_again() -> None:
    band, gather = DedupBandStage({}, window_s=86400), gather_stage()
    original = make_article(WIRE, article_id="a1" * 16, fetched_at=T0)
    gather_all(gather, original, verdicts(band, probes(original)))
    copy = make_article(reprint(), article_id="b2" * 16, fetched_at=T0 + timedelta(minutes=1))
    first_probes = probes(copy)
    first = gather_all(gather, copy, verdicts(band, first_probes))
    # Everything again (a crash before the commit, or clean re-emitting the article): the
    # band finds the same earlier article (itself filed changes nothing), the gather step
    # re-emits the same decision once and ignores the repeated verdicts.
    again = gather_all(gather, copy, verdicts(band, first_probes))
    assert [e.value for e in again] == [e.value for e in first] or [
        DuplicateEvent.from_json(e.value).duplicate_of for e in again
    ] == [DuplicateEvent.from_json(e.value).duplicate_of for e in first]
    assert DuplicateEvent.from_json(again[0].value).duplicate_of == original.article_id
    # Before the decision was closed (a crash right after it), the full entry decides again.
    gather2 = gather_stage()
    part = verdicts(band, first_probes)
    out = gather_all(gather2, copy, part)
    gather2.forget_partitions()  # the close was in memory only: lost with the process
    redo = gather_all(gather2, copy, part[-1:])  # the completing verdict comes again
    assert [e.topic for e in redo] == [e.topic for e in out]


def test_a_timeout_for_verdicts_without_an_article_drops_them() -> None:
    gather = gather_stage()
    stray = GatherTimeout(article_id="d4" * 16).to_json()
    assert gather(b"d4" * 16, stray, at("news.dedup.gather")).outcome == "orphan"
    assert gather.articles == {}
    assert gather.bands == {}


def test_a_decision_marker_replaces_the_entry_only_after_its_record_settled() -> None:
    """Agents read ahead of their acks (streams/app/inflight.py): the next record of the
    partition can come while the decision's output is unacked. The full entry stays in the
    table until the shell says the deciding record settled, so a crash in between finds it
    and decides again; in memory the article counts as decided meanwhile."""
    band, gather = DedupBandStage({}, window_s=86400), gather_stage()
    article = make_article(WIRE, article_id="d4" * 16, fetched_at=T0)
    other = make_article(UNRELATED, article_id="e5" * 16, fetched_at=T0)
    answers = verdicts(band, probes(article))
    pending = Emit.record(
        DEDUP_GATHER, article.article_id, PendingArticle(article=article, bands=len(answers))
    )
    gather(pending.key, pending.value, at(DEDUP_GATHER))
    for e in answers[:-1]:
        assert gather(e.key, e.value, at(DEDUP_GATHER)).outcome == "waiting"
    deciding = at(DEDUP_GATHER)
    assert gather(answers[-1].key, answers[-1].value, deciding).outcome == "new"
    key = f"0|{article.article_id}"
    other_pending = PendingArticle(article=other, bands=len(probes(other)))
    nxt = Emit.record(DEDUP_GATHER, other.article_id, other_pending)
    gather(nxt.key, nxt.value, at(DEDUP_GATHER))  # the next record, before the acks
    assert "done" not in gather.articles[key]  # the full entry: a crash decides again
    assert key in gather.bands
    last = answers[-1]
    assert gather(last.key, last.value, at(DEDUP_GATHER)).outcome == "late"  # decided here
    again = gather(pending.key, pending.value, at(DEDUP_GATHER))
    assert [e.topic for e in again.emits] == [UNIQUE]
    gather.settled(deciding)
    gather(nxt.key, nxt.value, at(DEDUP_GATHER))
    assert gather.articles[key]["done"] == [None, 0.0]
    assert key not in gather.bands
