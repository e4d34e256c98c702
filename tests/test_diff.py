"""`diff_from_vectors` / `compute_diff`: an injected change is found, a null pair is quiet, flips are right,
and the statistics match statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _diff_runs import MODE_IDS, run_pair, store_pair
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from mastlens.analysis.diff import diff_from_vectors
from mastlens.analysis.diff_store import JudgeChangeRefused, compute_diff
from mastlens.analysis.paired import mcnemar_exact, newcombe_paired, pair_rows
from mastlens.analysis.proportions import newcombe_diff, wilson


def _diff(base: pd.DataFrame, new: pd.DataFrame, match: str | None):
    return diff_from_vectors(base, new, base="base", new="new", match=match)


@pytest.mark.parametrize("match", ["task", None])
def test_injected_change_is_found(match):
    base, new = run_pair(1)
    result = _diff(base, new, match)
    assert result.paired is (match is not None)
    assert result.test == ("McNemar exact (paired)" if match else "Fisher exact (unpaired)")
    modes = {m.id: m for m in result.modes}
    fixed, appeared = modes["FM-3.3"], modes["FM-2.4"]
    assert (fixed.k_base, fixed.n_base, fixed.k_new, fixed.n_new) == (24, 60, 6, 60)
    assert fixed.diff == pytest.approx(-0.3) and fixed.diff_ci[1] < 0
    assert fixed.p_value < 0.05 and fixed.p_holm < 0.05 and fixed.significant
    assert (appeared.k_base, appeared.k_new) == (0, 18)
    assert appeared.diff_ci[0] > 0 and appeared.p_holm < 0.05 and appeared.significant
    kinds = {(v.mode, v.kind) for v in result.verdict_changes}
    assert ("FM-2.4", "appeared") in kinds
    example_ids = [e.trace_id for v in result.verdict_changes if v.mode == "FM-2.4" for e in v.examples]
    assert example_ids and set(example_ids) <= set(new.loc[new["FM-2.4"].astype(bool), "id"])
    if match:
        assert result.pairing.n_pairs == 60 and not result.pairing.unmatched_base
        assert fixed.lost - fixed.gained == 18  # 24 - 6: the discordant pairs carry the change


def test_flips_are_the_tasks_whose_outcome_changed():
    base, new = run_pair(1)
    result = _diff(base, new, "task")
    expected = []
    for (_, b), (_, n) in zip(base.iterrows(), new.iterrows()):
        assert b["task"] == n["task"]
        if bool(b["success"]) == bool(n["success"]):
            continue
        appeared = [m for m in MODE_IDS if not b[m] and n[m]]
        gone = [m for m in MODE_IDS if b[m] and not n[m]]
        expected.append(("fixed" if n["success"] else "broke", b["task"], b["id"], n["id"], appeared, gone))
    got = [(f.direction, f.match, f.base_trace, f.new_trace, f.modes_appeared, f.modes_disappeared)
           for f in result.flips]
    assert sorted(got) == sorted(expected)
    assert any(d == "fixed" for d, *_ in got) and any(d == "broke" for d, *_ in got)


def test_null_pairs_rarely_raise_a_false_alarm():
    """Same generator, other seed: at most 5 of 100 repetitions may show any significant mode."""
    quiet = {"task": 0, None: 0}
    for seed in range(100):
        base, new = run_pair(1000 + seed, change=False)
        for match in quiet:
            result = _diff(base, new, match)
            quiet[match] += not result.significant_modes()
    assert quiet["task"] >= 95, quiet
    assert quiet[None] >= 95, quiet


def test_mcnemar_matches_statsmodels():
    tables = [(10, 3, 9, 20), (5, 0, 0, 7), (0, 12, 2, 0), (30, 1, 8, 11), (4, 6, 6, 4)]
    lost = np.array([t[1] for t in tables])
    gained = np.array([t[2] for t in tables])
    ours = mcnemar_exact(lost, gained)
    for (a, b, c, d), p in zip(tables, ours):
        assert p == pytest.approx(mcnemar([[a, b], [c, d]], exact=True).pvalue, rel=1e-12)


def test_newcombe_matches_statsmodels():
    counts = [(6, 60, 24, 60), (0, 60, 18, 60), (3, 10, 7, 12), (50, 50, 1, 40), (0, 5, 0, 9)]
    for k1, n1, k2, n2 in counts:
        d, low, high = newcombe_diff(np.array([k1]), np.array([n1]), np.array([k2]), np.array([n2]))
        ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
        assert (low[0], high[0]) == pytest.approx(ref, abs=1e-9)
        assert d[0] == pytest.approx(k1 / n1 - k2 / n2)


def test_wilson_matches_statsmodels():
    for k, n in [(0, 60), (6, 60), (24, 60), (3, 3), (1, 7)]:
        low, high = wilson(np.array([k]), np.array([n]))
        assert (low[0], high[0]) == pytest.approx(proportion_confint(k, n, method="wilson"), abs=1e-12)


def test_paired_newcombe_reduces_to_independent_and_covers():
    # With no correlation (ad = bc) the paired interval is the independent one on the same n.
    d, low, high = newcombe_paired(np.array([4]), np.array([8]), np.array([6]), np.array([12]))
    ref = confint_proportions_2indep(10, 30, 12, 30, method="newcomb", compare="diff")
    assert (low[0], high[0]) == pytest.approx(ref, abs=1e-9) and d[0] == pytest.approx(-2 / 30)
    # Coverage on correlated pairs (p_base 0.4, p_new 0.25, strong agreement): close to the nominal 95%.
    rng = np.random.default_rng(5)
    n, reps = 60, 4000
    u = rng.random((reps, n))
    base = u < 0.4
    new = np.where(rng.random((reps, n)) < 0.7, u < 0.25, rng.random((reps, n)) < 0.25)
    truth = 0.25 - 0.4
    _, low, high = newcombe_paired((base & new).sum(1), (base & ~new).sum(1), (~base & new).sum(1),
                                   (~base & ~new).sum(1))
    coverage = float(((low <= truth) & (truth <= high)).mean())
    assert 0.93 <= coverage <= 0.98, coverage


def test_holm_matches_multipletests():
    base, new = run_pair(3)
    for match in ("task", None):
        result = _diff(base, new, match)
        ps = [m.p_value for m in result.modes]
        assert all(p is not None for p in ps)
        expected = multipletests(ps, method="holm")[1]
        assert [m.p_holm for m in result.modes] == pytest.approx(list(expected), abs=1e-12)
        assert [m.significant for m in result.modes] == [bool(p < 0.05) for p in expected]


def test_pairing_reports_unmatched_and_repeated_keys():
    base_keys = np.array(["a", "b", "b", "c", "unknown"], dtype=object)
    new_keys = np.array(["b", "a", "d", "b", "b"], dtype=object)
    base_ids = np.array(["x1", "x3", "x2", "x4", "x5"], dtype=object)
    new_ids = np.array(["y1", "y2", "y3", "y5", "y4"], dtype=object)
    pb, pn, ub, un, repeated = pair_rows(base_keys, base_ids, new_keys, new_ids, "unknown")
    pairs = sorted(zip(base_ids[pb], new_ids[pn]))
    assert pairs == [("x1", "y2"), ("x2", "y1"), ("x3", "y4")]  # "b" pairs in id order: x2-y1, x3-y4
    assert sorted(base_ids[ub]) == ["x4", "x5"] and sorted(new_ids[un]) == ["y3", "y5"]
    assert repeated == 1


def test_small_samples_and_no_change_say_so():
    base, new = run_pair(7, n_tasks=12, change=False)
    result = _diff(base, new, "task")
    assert any("small sample" in n for n in result.notes)
    if not result.significant_modes():
        assert any("no significant change" in n for n in result.notes)
    assert all(m.prevalence_base_ci is not None for m in result.modes if m.n_base)


def test_compute_diff_from_the_store_links_evidence(store):
    base, new = run_pair(1)
    store_pair(store, base, new, quote="all checks verified <b>ok</b>")
    result = compute_diff(store, "base", "new", match="task")
    appeared = next(v for v in result.verdict_changes if v.mode == "FM-2.4" and v.kind == "appeared")
    assert appeared.examples and all(e.side == "new" for e in appeared.examples)
    first = appeared.examples[0]
    assert first.evidence[0].step == 1 and first.evidence[0].quote == "all checks verified <b>ok</b>"[:30]
    assert first.reason == "FM-2.4 seen"
    same = diff_from_vectors(base, new, base="base", new="new", match="task")
    assert [m.p_value for m in result.modes] == pytest.approx([m.p_value for m in same.modes])
    with pytest.raises(ValueError, match="no traces with run = 'nope'"):
        compute_diff(store, "base", "nope")
    with pytest.raises(ValueError, match="cannot group by 'nokey'"):
        compute_diff(store, "base", "new", match="nokey")


def test_a_diff_across_judge_configurations_is_refused(store):
    base, new = run_pair(2)
    store_pair(store, base, new, set_base="judge-a", set_new="judge-b")
    store.ensure_set("judge-b", judge="openai:other-model", model="other-model", prompt_hash="p1",
                     taxonomy_version=store.get_set("judge-a").taxonomy_version)
    with pytest.raises(JudgeChangeRefused, match="model 'test-model' -> 'other-model'"):
        compute_diff(store, "base", "new", set_base="judge-a", set_new="judge-b")
    allowed = compute_diff(store, "base", "new", set_base="judge-a", set_new="judge-b", allow_judge_change=True)
    assert "other-model" in allowed.judge_change
    assert any("judge configuration changed" in n for n in allowed.notes)
    # Two sets of the same configuration (e.g. judged in two jobs) are fine.
    store.ensure_set("judge-b", judge="openai:test-model", model="test-model", prompt_hash="p1",
                     taxonomy_version=store.get_set("judge-a").taxonomy_version)
    assert compute_diff(store, "base", "new", set_base="judge-a", set_new="judge-b").judge_change is None
