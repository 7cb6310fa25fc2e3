"""How the contextual threshold is chosen: the rule is written down, and the floor never hides."""

from __future__ import annotations

import numpy as np

from routing.train_contextual import FLOOR, curve, recall_threshold, rule_threshold, threshold_for

# Ten negatives and ten implied positives, scores written for the test.
NEGATIVES = np.array([0.05, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.6, 0.7])
POSITIVES = np.array([0.55, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.9, 0.95, 0.99])
SCORES = np.concatenate([NEGATIVES, POSITIVES])
SENSITIVE = np.array([False] * 10 + [True] * 10)
IMPLIED = SENSITIVE.copy()


def test_false_flag_rule_allows_the_target_share_of_negatives() -> None:
    # 10 % of ten negatives: one may score above the threshold (0.7), the second (0.6) may not.
    assert rule_threshold(SCORES, SENSITIVE, 0.10) == 0.601
    assert rule_threshold(SCORES, SENSITIVE, 0.0) == 0.701


def test_recall_rule_is_the_highest_threshold_that_keeps_recall() -> None:
    assert recall_threshold(SCORES, IMPLIED, 0.9) == 0.6  # nine of ten positives are >= 0.6
    assert recall_threshold(SCORES, IMPLIED, 1.0) == 0.55


def test_threshold_is_the_highest_of_floor_and_both_rules() -> None:
    assert threshold_for(SCORES, SENSITIVE, 0.10, IMPLIED, 0.9) == 0.601
    assert threshold_for(SCORES, SENSITIVE, 0.0, IMPLIED, 0.9) == 0.701
    low = SCORES * 0.5
    assert threshold_for(low, SENSITIVE, 0.5, IMPLIED, 1.0) == FLOOR


def test_curve_reports_near_miss_flags_and_implied_recall() -> None:
    points = {
        threshold: (flags, recall)
        for threshold, flags, recall in curve(SCORES, SENSITIVE, ~SENSITIVE, IMPLIED)
    }
    assert points[0.5] == (0.2, 1.0)
    assert points[0.65] == (0.1, 0.8)
