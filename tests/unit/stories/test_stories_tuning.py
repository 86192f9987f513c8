"""The tuning rules on made-up pairs: the margin's leave-one-out, the evidence comparison."""

from __future__ import annotations

import numpy as np

from streams.stories.quality import StoryPair
from streams.stories.tuning import (
    FEATURE_SETS,
    compare_evidence,
    linked_without_false_link,
    loo_scores,
    margin_rule,
)

DOC = ("https://a.example/1", "Title", "Text")


def _pairs(same: list[bool], halves: str) -> list[StoryPair]:
    return [
        StoryPair(i, s, h, "en", DOC, DOC)
        for i, (s, h) in enumerate(zip(same, halves, strict=True))
    ]


def test_linked_without_false_link_counts_same_pairs_above_every_different_pair() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.85, 0.6])
    same = np.array([True, True, True, False, False])
    assert linked_without_false_link(scores, same) == 1  # only 0.9 is above 0.85


def test_margin_rule_leave_one_out_links_the_top_different_pair_only_within_the_gap() -> None:
    # half A: two different pairs 0.01 of cosine apart, same pairs at 0.95 and 0.99;
    # half B: one same pair at 0.96, one different at 0.92
    cos = np.array([0.90, 0.91, 0.95, 0.99, 0.96, 0.92])
    pairs = _pairs([False, False, True, True, True, False], "AAAABB")
    rows = {m: rest for m, *rest in margin_rule(pairs, cos, (0.0, 0.1, 0.3))}
    # margin 0: held out, the top different pair (0.91) scores above the other's 0.90
    assert rows[0.0] == [1, 2, 1.0, 0.0]
    # 0.1 log-odds at weight 23 is 0.004 of cosine: still within the 0.01 gap
    assert rows[0.1][0] == 1
    # 0.3 is 0.013: the top one stays apart; the centre 0.923 still links both same pairs of
    # A and keeps B's different pair apart
    assert rows[0.3] == [0, 2, 1.0, 1.0]


def test_loo_scores_never_see_their_own_label() -> None:
    # one feature that separates perfectly except one mislabelled point: its leave-one-out
    # score follows its neighbours, not its own label
    x = np.array([[0.1], [0.2], [0.3], [0.7], [0.8], [0.9], [0.85]])
    y = np.array([False, False, False, True, True, True, False])
    loo = loo_scores(x, y)
    assert loo[-1] > 0  # predicted same although labelled different
    assert loo[0] < 0 < loo[4]


def test_compare_evidence_reports_every_feature_set() -> None:
    rng = np.random.default_rng(0)
    same = [bool(i % 2) for i in range(40)]
    pairs = _pairs(same, "AABB" * 10)
    y = np.array(same)
    names = {n for fs in FEATURE_SETS for n in fs}
    # "cos" separates, the others are noise: cos alone must rank at least as well on A
    features = {n: rng.normal(size=40) for n in names}
    features["cos"] = y + rng.normal(scale=0.3, size=40)
    rows = compare_evidence(pairs, features)
    assert [r.features for r in rows] == list(FEATURE_SETS)
    by = {r.features: r for r in rows}
    assert by[("cos",)].loo_auc_a > 0.9
    assert by[("headline_cos", "lead_cos")].loo_auc_a < 0.8
    assert all(0.0 <= r.linked_b <= 1.0 and 0.0 <= r.apart_b <= 1.0 for r in rows)
    assert by[("cos",)].coef[0] > 0
