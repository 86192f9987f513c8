"""The state stays bounded: by the time window, per key, per story and overall."""

from __future__ import annotations

from streams.stories import Limits, StoryAssigner
from tests.unit.stories.fakes import T0, article

DAY = 86_400.0


def test_articles_older_than_the_window_leave_the_state_and_the_index() -> None:
    a = StoryAssigner(limits=Limits(window_s=DAY))
    a.assign(article("a" * 32, "paris", url="https://one.example/a"))
    assert "a" * 32 in a.state.members
    later = a.assign(article("b" * 32, "paris", url="https://two.example/b", t=T0 + 2 * DAY))
    # the first report is gone: the same event two days on starts a new story
    assert later.new_story
    assert set(a.state.members) == {"b" * 32}
    assert set(a.state.stories) == {"b" * 32}
    assert all(ids == ["b" * 32] for ids in a.state.index.values())


def test_state_size_is_flat_over_a_long_stream() -> None:
    a = StoryAssigner(limits=Limits(window_s=DAY, max_per_key=8, max_members=4))
    sizes = []
    for i in range(600):
        # one new "event" every 10 articles, one article every 30 minutes
        a.assign(
            article(
                f"{i:032x}",
                f"event{i // 10}",
                t=T0 + 1800 * i,
                title=f"Event {i // 10} in Paris",
                url=f"https://s{i % 7}.example/{i}",
            )
        )
        sizes.append(len(a.state.members))
    assert max(sizes) <= DAY / 1800 + 1
    assert len(a.state.stories) <= DAY / 1800 + 1
    assert all(len(b) <= 8 for b in a.state.index.values())
    assert all(len(s.members) <= 4 for s in a.state.stories.values())


def test_max_articles_evicts_the_oldest() -> None:
    a = StoryAssigner(limits=Limits(max_articles=5))
    for i in range(12):
        a.assign(article(f"{i:032x}", f"e{i}", t=T0 + i, url=f"https://s{i}.example/"))
    assert sorted(a.state.members) == [f"{i:032x}" for i in range(7, 12)]
