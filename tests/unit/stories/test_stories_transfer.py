"""Names weighed on Wikipedia event pairs: the IDF overlap and the training pairs."""

from __future__ import annotations

import numpy as np
import pytest

from streams.classify.encoder import DIM
from streams.stories.features import name_key
from streams.stories.quality import Event
from streams.stories.transfer import NameIdf, event_pairs

BACKGROUND = [("", "Russia and Moscow said.")] * 9 + [("", "Chudovo station, Russia.")]


def keys(*words: str) -> frozenset[str]:
    return frozenset(k for w in words if (k := name_key(w)) is not None)


def test_a_rare_shared_name_weighs_more_than_a_common_one() -> None:
    idf = NameIdf(BACKGROUND)
    assert idf.n == 10
    assert idf.weight(name_key("Chudovo") or "") > idf.weight(name_key("Russia") or "")
    article = keys("Chudovo", "Moscow", "Lviv")
    rare = idf.overlap(article, keys("Chudovo", "Kyiv"))  # the rare name shared
    common = idf.overlap(article, keys("Moscow", "Kyiv"))  # the common one
    assert rare > 5 * common > 0
    assert idf.overlap(keys("Moscow"), frozenset()) == 0.0
    assert idf.overlap(keys("Kyiv"), keys("Kyiv")) == pytest.approx(1.0)  # unseen: rarest


def test_event_pairs_are_within_a_day_and_one_half_labelled_by_path() -> None:
    def event(i: int, day: str, story: str, half: str = "A") -> Event:
        return Event(i, f"Event {i} in Gaza City.", story, "war", day, half)

    events = [
        event(0, "2025-10-01", "Gaza war"),
        event(1, "2025-10-01", "Gaza war"),
        event(2, "2025-10-02", ""),  # no path: its own story
        event(3, "2025-10-05", "Gaza war"),  # four days on: not paired
        event(4, "2025-10-05", "Gaza war", "B"),  # the other half
    ]
    vectors = np.zeros((len(events), DIM), dtype=np.float32)
    vectors[:, 0] = 1.0
    x, y = event_pairs(events, vectors, NameIdf(BACKGROUND), "A")
    assert y.tolist() == [True, False, False]  # (0, 1), (0, 2), (1, 2)
    assert x[:, 0].tolist() == [1.0, 1.0, 1.0]
    assert x[0, 1] == pytest.approx(1.0)  # the same names
