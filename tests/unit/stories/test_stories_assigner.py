"""StoryAssigner: linking, new stories, determinism, redelivery and the outlet rule."""

from __future__ import annotations

import random

import pytest

from streams.stories import Assignment, StoryAssigner
from streams.stories.scoring import Weights
from streams.stories.state import Member
from tests.unit.stories.fakes import T0, article

OTHER = {
    "title": "Dynamo beat Shakhtar in the Cup final",
    "text": "Dynamo Kyiv won the Ukrainian Cup final against Shakhtar Donetsk 2:1 in Lviv.",
}


def test_reports_of_one_event_share_a_story_and_others_do_not() -> None:
    a = StoryAssigner()
    first = a.assign(article("a" * 32, "paris", url="https://one.example/a"))
    second = a.assign(article("b" * 32, "paris", url="https://two.example/b", t=T0 + 3600))
    other = a.assign(article("c" * 32, "cup", url="https://two.example/c", **OTHER))
    assert first.new_story
    assert first.story_id == "a" * 32
    assert not second.new_story
    assert second.story_id == "a" * 32
    assert second.matched == "a" * 32
    assert second.score is not None
    assert second.score >= 0
    assert other.new_story
    assert other.story_id == "c" * 32


def test_the_same_stream_gives_the_same_stories() -> None:
    topics = ["paris", "cup", "paris", "flood", "cup", "paris"]
    stream = [
        article(
            f"{i:032x}",
            topic,
            url=f"https://s{i}.example/{i}",
            t=T0 + 600 * i,
            **(OTHER if topic == "cup" else {}),
        )
        for i, topic in enumerate(topics)
    ]

    def run() -> list[Assignment]:
        assigner = StoryAssigner()
        return [assigner.assign(x) for x in stream]

    runs = [run(), run()]
    assert runs[0] == runs[1]
    stories = [r.story_id for r in runs[0]]
    assert stories[0] == stories[2] == stories[5]
    assert stories[1] == stories[4]
    assert len(set(stories)) == 3


def test_ties_go_to_the_story_that_began_first() -> None:
    a = StoryAssigner()
    # Two stories with the same text and vector (kept apart by the outlet rule), then a third
    # report that scores alike against both.
    same = {"noise": 0.0}
    a.assign(article("1" * 32, "paris", url="https://one.example/1", t=T0, **same))
    a.assign(article("2" * 32, "paris", url="https://one.example/2", t=T0 + 60, **same))
    answer = a.assign(article("3" * 32, "paris", url="https://two.example/3", t=T0 + 120, **same))
    assert answer.story_id == "1" * 32


def test_same_outlet_same_day_needs_more_evidence() -> None:
    a = StoryAssigner()
    m1 = a.member(article("a" * 32, "paris", url="https://one.example/a"))
    m2 = a.member(article("b" * 32, "paris", url="https://one.example/b", t=T0 + 3600))
    m3 = a.member(article("c" * 32, "paris", url="https://two.example/c", t=T0 + 3600))
    same, other = a.evidence(m2, m1), a.evidence(m3, m1)
    assert same.same_outlet
    assert not other.same_outlet
    w = Weights()
    assert other.score(w) - same.score(w) > w.outlet_penalty - 1.0  # noise differs a little
    assert same.score(w.with_weight("outlet", 0.0)) > same.score(w)


def test_a_redelivered_article_gets_its_first_answer_and_changes_nothing() -> None:
    a = StoryAssigner()
    first = a.assign(article("a" * 32, "paris", url="https://one.example/a"))
    a.assign(article("b" * 32, "paris", url="https://two.example/b", t=T0 + 60))
    size = a.state.stories["a" * 32].size
    again = a.assign(article("a" * 32, "paris", url="https://one.example/a"))
    assert again == first
    assert a.state.stories["a" * 32].size == size


def test_disjoint_desks_and_time_lower_the_score() -> None:
    a = StoryAssigner()

    def member(aid: str, t: float, desk: str) -> Member:
        return a.member(article(aid, "paris", t=t, noise=0.0, desks=frozenset({desk})))

    base = member("a" * 32, T0, "diplomacy")
    near = member("b" * 32, T0 + 3600, "diplomacy")
    late = member("c" * 32, T0 + 2 * 86400, "diplomacy")
    sport = member("d" * 32, T0 + 3600, "sport")
    # Same vector for all four (no noise): only time and desks differ.
    w = Weights().with_weight("time", 1.5)
    near_e, late_e, sport_e = (a.evidence(m, base) for m in (near, late, sport))
    assert late_e.days == 2.0
    assert near_e.score(w) - late_e.score(w) > 1.5
    assert near_e.score(Weights()) == late_e.score(Weights())  # shipped: no time penalty
    assert sport_e.desks_disjoint
    assert near_e.score(w) - sport_e.score(w) == pytest.approx(w.desk_penalty)


def test_arrival_order_shuffled_still_groups_the_same_articles() -> None:
    stream = [
        article(
            f"{i:032x}",
            "paris" if i % 2 else "cup",
            url=f"https://s{i}.example/",
            t=T0 + 60 * i,
            **({} if i % 2 else OTHER),
        )
        for i in range(10)
    ]
    random.Random(7).shuffle(stream)
    a = StoryAssigner()
    groups: dict[str, set[int]] = {}
    for x in stream:
        groups.setdefault(a.assign(x).story_id, set()).add(int(x.article_id, 16) % 2)
    assert sorted(map(sorted, groups.values())) == [[0], [1]]


def test_decide_files_nothing_until_commit() -> None:
    a = StoryAssigner()
    member, answer = a.decide(article("a" * 32, "paris", url="https://one.example/a"))
    assert a.state.members == {}
    # decided before the first is filed: the second report cannot see it (a split)
    _, early = a.decide(article("b" * 32, "paris", url="https://two.example/b", t=T0 + 60))
    assert early.new_story
    a.commit(member, answer)
    late = a.assign(article("c" * 32, "paris", url="https://three.example/c", t=T0 + 120))
    assert late.story_id == "a" * 32


def test_scan_all_finds_what_keys_find() -> None:
    stream = [article(f"{i:032x}", "paris", url=f"https://s{i}.example/", t=T0 + 60 * i)
              for i in range(5)]  # fmt: skip
    keyed, scanned = StoryAssigner(), StoryAssigner(scan_all=True)
    assert [keyed.assign(x) for x in stream] == [scanned.assign(x) for x in stream]
