"""Per-group statistics on small hand-built tables, checked by hand and against scipy / statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from vector_frames import MODE_IDS, status_with, vectors_frame

from mastlens.analysis import VerdictRules, stats_from_vectors

SUCCESS_4_OF_10 = [True] * 4 + [False] * 6


def _small_group():
    """10 traces, 4 successes (rows 0-3). FM-3.3 in 1 success and 4 failures; FM-1.3 in every success and 2
    failures; FM-2.1 not assessed on rows 8-9 and present on row 4."""
    status = status_with(10, {"FM-3.3": [0, 4, 5, 6, 7], "FM-1.3": [0, 1, 2, 3, 8, 9], "FM-2.1": [4]})
    status[[8, 9], MODE_IDS.index("FM-2.1")] = -1
    return vectors_frame(status, SUCCESS_4_OF_10, scores=[1.0] * 4 + [0.5, 0, 0, 0, 0, None])


def _mode(group, mode_id):
    return next(m for m in group.modes if m.id == mode_id)


def test_group_summary_by_hand():
    g = stats_from_vectors(_small_group()).groups[0]
    assert (g.name, g.n, g.n_failed, g.n_unknown_outcome) == ("m", 10, 6, 0)
    assert g.success_rate == pytest.approx(0.4)
    assert g.mean_score == pytest.approx(4.5 / 9)  # the trace without a score is left out
    per_trace = [2, 1, 1, 1, 2, 1, 1, 1, 1, 1]  # present modes only; not_assessed cells count for nothing
    assert g.modes_per_trace == pytest.approx(np.mean(per_trace))
    assert g.modes_per_trace_sd == pytest.approx(np.std(per_trace, ddof=1))
    assert g.modes_per_failed_trace == pytest.approx(np.mean(per_trace[4:]))
    assert g.modes_per_failed_trace_sd == pytest.approx(np.std(per_trace[4:], ddof=1))
    assert g.modes_histogram == {"0": 0, "1": 8, "2": 2}
    assert g.modes_histogram_failed == {"0": 0, "1": 5, "2": 1}  # rows 4-9
    cats = {c.id: c for c in g.categories}
    assert cats["FC1"].prevalence == pytest.approx(0.6)  # FM-1.3 rows
    assert cats["FC2"].prevalence == pytest.approx(0.1)  # FM-2.1 on row 4
    assert cats["FC3"].prevalence == pytest.approx(0.5)
    assert cats["FC3"].prevalence_ci == pytest.approx(proportion_confint(5, 10, method="wilson"))


def test_mode_statistics_by_hand_and_against_references():
    g = stats_from_vectors(_small_group()).groups[0]
    m = _mode(g, "FM-3.3")
    assert (m.n_assessed, m.n_not_assessed) == (10, 0)
    assert m.prevalence == pytest.approx(0.5)
    assert m.prevalence_success == pytest.approx(0.25)
    assert m.prevalence_failed == pytest.approx(4 / 6)
    assert m.prevalence_ci == pytest.approx(proportion_confint(5, 10, method="wilson"))
    assert m.prevalence_success_ci == pytest.approx(proportion_confint(1, 4, method="wilson"))
    assert m.prevalence_failed_ci == pytest.approx(proportion_confint(4, 6, method="wilson"))
    assert m.delta_pp == pytest.approx(100 * (4 / 6 - 1 / 4))
    assert m.lift == pytest.approx((4 / 6) / (1 / 4))
    assert m.odds_ratio == pytest.approx((4 / 2) / (1 / 3))  # odds in failed over odds in successes
    assert m.odds_ratio_ci == pytest.approx(Table2x2(np.array([[4, 2], [1, 3]])).oddsratio_confint())
    assert m.p_value == pytest.approx(fisher_exact([[4, 2], [1, 3]])[1])
    p_values = [_mode(g, mode_id).p_value for mode_id in MODE_IDS]
    assert all(p is not None for p in p_values)
    assert [_mode(g, mode_id).p_holm for mode_id in MODE_IDS] == pytest.approx(
        list(multipletests(p_values, method="holm")[1]))
    assert m.verdict == "insufficient"  # only 4 successes


def test_not_assessed_cells_leave_the_denominators_and_are_counted():
    g = stats_from_vectors(_small_group()).groups[0]
    m = _mode(g, "FM-2.1")
    assert (m.n_assessed, m.n_not_assessed) == (8, 2)
    assert m.prevalence == pytest.approx(1 / 8)
    assert m.prevalence_failed == pytest.approx(1 / 4)  # rows 4-7 assessed among the failures
    assert m.prevalence_failed_ci == pytest.approx(proportion_confint(1, 4, method="wilson"))
    assert m.odds_ratio == pytest.approx((1.5 / 3.5) / (0.5 / 4.5))  # zero cell: +0.5 everywhere
    assert m.p_value == pytest.approx(fisher_exact([[1, 3], [0, 4]])[1])


def test_mode_never_present_and_lift_without_successes():
    g = stats_from_vectors(_small_group()).groups[0]
    never = _mode(g, "FM-1.2")
    assert never.prevalence == 0 and never.prevalence_ci[0] == 0
    assert never.prevalence_ci == pytest.approx(proportion_confint(0, 10, method="wilson"))
    assert never.delta_pp == 0 and never.lift is None and never.odds_ratio is None and never.odds_ratio_ci is None
    assert never.p_value == pytest.approx(1.0)
    only_failed = _mode(g, "FM-2.1")
    assert only_failed.prevalence_success == 0 and only_failed.lift is None


@pytest.mark.parametrize("outcome", [True, False])
def test_single_outcome_groups(outcome):
    status = status_with(6, {"FM-1.5": [0, 1, 2], "FM-3.1": [3]})
    result = stats_from_vectors(vectors_frame(status, [outcome] * 6))
    g = result.groups[0]
    assert g.n_failed == (0 if outcome else 6) and g.success_rate == (1.0 if outcome else 0.0)
    m = _mode(g, "FM-1.5")
    assert m.prevalence == pytest.approx(0.5)
    if outcome:
        assert m.prevalence_success == pytest.approx(0.5) and m.prevalence_failed is None
        assert g.modes_per_failed_trace is None and g.modes_per_failed_trace_sd is None
    else:
        assert m.prevalence_failed == pytest.approx(0.5) and m.prevalence_success is None
        assert g.modes_per_failed_trace == pytest.approx(4 / 6)
    assert m.delta_pp is None and m.lift is None and m.odds_ratio is None
    assert m.p_value is None and m.p_holm is None and m.verdict == "insufficient"
    assert "both outcomes" in result.regression.note and result.regression.terms == []


def test_unknown_outcomes_are_counted_but_not_failures():
    status = status_with(4, {"FM-1.1": [0, 3]})
    g = stats_from_vectors(vectors_frame(status, [True, False, None, None])).groups[0]
    assert (g.n, g.n_failed, g.n_unknown_outcome, g.success_rate) == (4, 1, 2, 0.5)
    assert _mode(g, "FM-1.1").prevalence == pytest.approx(0.5)


def test_verdicts_on_a_larger_group():
    # 30 successes then 30 failures. FM-1.5: 3 vs 20 (fatal). FM-1.3: 15 vs 16 (benign). FM-2.2: 1 vs 5 (neutral).
    status = status_with(60, {"FM-1.5": [*range(3), *range(30, 50)], "FM-1.3": [*range(15), *range(30, 46)],
                              "FM-2.2": [0, *range(30, 35)]})
    g = stats_from_vectors(vectors_frame(status, [True] * 30 + [False] * 30)).groups[0]
    assert _mode(g, "FM-1.5").verdict == "fatal" and _mode(g, "FM-1.5").p_holm < 0.05
    assert _mode(g, "FM-1.3").verdict == "benign"
    assert _mode(g, "FM-2.2").verdict == "neutral"
    assert _mode(g, "FM-1.1").verdict == "neutral"  # never present, enough of both outcomes


def test_verdict_rules_are_configurable():
    rules = VerdictRules()
    assert rules.verdict(4, 50, 0.1, 60.0, 0.001) == "insufficient"
    assert rules.verdict(40, 50, 0.1, 25.0, 0.01) == "fatal"
    assert rules.verdict(40, 50, 0.1, 25.0, 0.2) == "neutral"
    assert rules.verdict(10, 50, 0.1, 35.0, 0.2) == "fatal"  # small side: the delta alone decides
    assert rules.verdict(40, 50, 0.5, 5.0, 0.9) == "benign"
    assert rules.verdict(40, 50, 0.5, -30.0, 0.001) == "benign"
    strict = VerdictRules(fatal_delta_pp=30.0, small_group=5)
    assert strict.verdict(40, 50, 0.1, 25.0, 0.01) == "neutral"
    assert "fatal: delta >= 30 pp and Holm p < 0.05" in strict.describe()
    assert "in >= 30% of successes and delta < 10 pp" in rules.describe()


def test_groups_are_split_by_the_group_key_and_unknown_key_is_an_error():
    status = status_with(6, {"FM-3.3": [0, 3]})
    df = vectors_frame(status, [True, False] * 3, groups=["a", "a", "a", "b", "b", None])
    result = stats_from_vectors(df)
    # the trace with no model is grouped by its source (here the default "native"), not as "unknown"
    assert [(g.name, g.n) for g in result.groups] == [("a", 3), ("b", 2), ("native", 1)]
    assert result.groups_by_source == ["native"]
    assert [(g.name, g.n) for g in stats_from_vectors(df.drop(columns=["source"])).groups][-1] == ("unknown", 1)
    with pytest.raises(ValueError, match="cannot group by 'nope'"):
        stats_from_vectors(df, group_by="nope")
