"""Fidelity figures against hand computation and independent implementations: AUROC (scipy's Mann-Whitney U),
the Rogan-Gladen corrected prevalence (formula, clipping, degenerate cases) and outcome separation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from mastlens.analysis.fidelity import (
    MIN_INFORMATIVE, auroc, auroc_ci, corrected_prevalence, outcome_separation, rogan_gladen, separation_sentence,
)


def test_auroc_is_mann_whitney_u_over_n1_n2_with_ties():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        failed = rng.random(n) < 0.5
        failed[:2] = [True, False]
        scores = rng.integers(0, 4, size=n) + failed * rng.integers(0, 2, size=n)  # many ties
        u = mannwhitneyu(scores[failed], scores[~failed], alternative="two-sided").statistic
        assert auroc(scores, failed) == pytest.approx(u / (failed.sum() * (~failed).sum()))


def test_auroc_hand_computed():
    # failed scores 2, 1; successful 1, 0: pairs (2>1), (2>0), (1=1 half), (1>0) -> 3.5 / 4
    assert auroc(np.array([2, 1, 1, 0]), np.array([True, True, False, False])) == pytest.approx(0.875)
    assert auroc(np.array([0, 0, 0]), np.array([True, False, False])) == 0.5
    assert auroc(np.array([1, 2]), np.array([True, True])) is None


def test_auroc_ci_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(2)
    failed = rng.random(80) < 0.6
    scores = rng.poisson(1 + failed)
    first, again = auroc_ci(scores, failed, seed=5), auroc_ci(scores, failed, seed=5)
    assert first == again
    assert first[0] <= auroc(scores, failed) <= first[1]
    assert auroc_ci(scores, failed, seed=6) != first


def test_outcome_separation_flag_rates_and_unknown_outcomes():
    present = np.zeros((6, 14), dtype=bool)
    present[0, [0, 1]] = True  # failed, 2 modes
    present[1, 3] = True  # failed, 1 mode
    present[3, 5] = True  # successful, 1 mode
    present[5, 2] = True  # unknown outcome: left out
    success = np.array([0, 0, 0, 1, 1, -1])
    sep = outcome_separation(present, success, rounds=200)
    assert (sep.n, sep.n_failed, sep.n_success) == (5, 3, 2)
    assert sep.flagged_failed == pytest.approx(2 / 3) and sep.flagged_success == pytest.approx(1 / 2)
    # failed 2,1,0 vs successful 1,0: (2>1)(2>0)(1=1 half)(1>0)(0<1)(0=0 half) -> 4 / 6
    assert sep.auroc == pytest.approx(4 / 6)


def test_outcome_separation_one_sided_and_chance_warning():
    only_failed = outcome_separation(np.ones((4, 14), dtype=bool), np.zeros(4, dtype=int))
    assert only_failed.auroc is None and "both failed and successful" in only_failed.note
    assert only_failed.flagged_failed == 1.0 and only_failed.flagged_success is None
    chance = outcome_separation(np.zeros((10, 14), dtype=bool), np.array([0, 1] * 5))
    assert chance.auroc == 0.5 and "includes 0.5" in chance.note
    sentence = separation_sentence(chance)
    assert "AUROC 0.50 [0.50, 0.50] on 10 runs" in sentence and "Warning" in sentence


def test_rogan_gladen_formula_clipping_and_degenerate():
    assert rogan_gladen(0.3, 0.8, 0.9) == pytest.approx((0.3 + 0.9 - 1) / (0.8 + 0.9 - 1))
    assert rogan_gladen(0.05, 0.8, 0.9) == 0.0  # (0.05 - 0.1) / 0.7 < 0
    assert rogan_gladen(0.99, 0.8, 0.9) == 1.0  # 0.89 / 0.7 > 1
    assert rogan_gladen(0.4, 0.5, 0.5 + MIN_INFORMATIVE) is None  # se + sp - 1 = 0.05
    assert rogan_gladen(0.4, 0.5, 0.56) is not None
    assert rogan_gladen(0.4, 0.2, 0.3) is None  # worse than chance


def test_corrected_prevalence_hand_computed():
    # overlap: 10 reference positives (judge finds 8), 10 negatives (judge flags 1) -> se 0.8, sp 0.9
    ref = np.array([True] * 10 + [False] * 10)
    judge_overlap = np.array([True] * 8 + [False] * 2 + [True] + [False] * 9)
    rest = np.array([True] * 12 + [False] * 18)  # the other 30 judged traces
    cp = corrected_prevalence(rest, judge_overlap, ref, rounds=400)
    p = (12 + 9) / 50
    assert cp.prevalence == pytest.approx(p)
    assert (cp.sensitivity, cp.specificity) == (pytest.approx(0.8), pytest.approx(0.9))
    assert cp.corrected == pytest.approx((p + 0.9 - 1) / 0.7)
    assert cp.corrected_ci[0] <= cp.corrected <= cp.corrected_ci[1] and cp.note is None
    assert corrected_prevalence(rest, judge_overlap, ref, rounds=400).corrected_ci == cp.corrected_ci


def test_corrected_prevalence_degenerate_cases_give_a_note_not_a_number():
    no_pos = corrected_prevalence(np.array([True, False]), np.array([True, False]), np.array([False, False]))
    assert no_pos.corrected is None and "no positive" in no_pos.note and no_pos.prevalence == 0.5
    no_neg = corrected_prevalence(np.array([], dtype=bool), np.array([True, False]), np.array([True, True]))
    assert no_neg.corrected is None and "no negative" in no_neg.note
    chance = corrected_prevalence(np.array([True]), np.array([True, False, True, False]),
                                  np.array([True, True, False, False]))
    assert chance.sensitivity == 0.5 and chance.specificity == 0.5
    assert chance.corrected is None and "barely beats chance" in chance.note


def test_corrected_prevalence_counts_only_the_groups_share_of_the_overlap():
    ref = np.array([True, True, False, False])
    judged = np.array([True, True, False, False])  # perfect judge
    cp = corrected_prevalence(np.array([False, False]), judged, ref,
                              overlap_in_group=np.array([True, False, False, False]), rounds=200)
    assert cp.prevalence == pytest.approx(1 / 3)  # 1 of the group's 2 + 1 traces
    assert cp.corrected == pytest.approx(1 / 3)
