"""Quality on the labelled stories pairs (needs ../shared/data; skipped without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.dedup.quality import PAIRS, Tally, data_root, evaluate, load_pairs

ROOT = data_root(Path(__file__).resolve().parents[4] / "shared/data")


@pytest.fixture(scope="module")
def tallies() -> dict[str, Tally]:
    if not (ROOT / PAIRS).exists():
        pytest.skip(f"shared data not found at {ROOT / PAIRS} (set NEWSSTREAM_SHARED_DATA)")
    return evaluate(load_pairs(ROOT))


@pytest.mark.data
def test_different_stories_are_never_merged(tallies: dict[str, Tally]) -> None:
    assert tallies["bad"].pairs >= 60
    assert tallies["bad"].either == 0


@pytest.mark.data
def test_independent_write_ups_are_never_merged(tallies: dict[str, Tally]) -> None:
    assert tallies["independent"].pairs >= 30
    assert tallies["independent"].either == 0


@pytest.mark.data
def test_reprints_are_caught_when_the_copy_comes_second(tallies: dict[str, Tally]) -> None:
    # Measured 9 of 9 (README.md); allow one miss to the estimator's randomness.
    reprint = tallies["reprint"]
    assert reprint.pairs >= 8
    assert reprint.copy_second >= reprint.pairs - 1
