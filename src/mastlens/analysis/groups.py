"""Per-group statistics: outcomes, modes per trace, categories and every per-mode statistic with a verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path

import numpy as np

from mastlens.analysis.proportions import ci, fisher_p, holm, num, odds_ratio, ratio, wilson
from mastlens.analysis.results import CategoryStat, GroupStats, ModeStat, SourceOutcome
from mastlens.analysis.strata import Strata, cmh_test
from mastlens.settings_file import read_settings


@dataclass(frozen=True)
class VerdictRules:
    """When a mode is called fatal, benign, neutral or insufficient within a group.

    * insufficient: fewer than ``min_per_side`` assessed successful or failed traces;
    * fatal: delta >= ``fatal_delta_pp`` points and Holm p < ``fatal_alpha``; or, when either side has fewer
      than ``small_group`` traces (too few for the test to reach significance), delta >=
      ``small_group_fatal_delta_pp`` points;
    * benign: prevalence in successes >= ``benign_success_prevalence`` and delta < ``benign_max_delta_pp``;
    * neutral: everything else.

    A mode assessed on fewer than ``min_assessed`` traces of a group shows "too few assessed (k)" instead
    of a prevalence, and its verdict is insufficient.
    """

    min_per_side: int = 5
    min_assessed: int = 5
    fatal_delta_pp: float = 20.0
    fatal_alpha: float = 0.05
    small_group: int = 20
    small_group_fatal_delta_pp: float = 30.0
    benign_success_prevalence: float = 0.30
    benign_max_delta_pp: float = 10.0

    def describe(self) -> str:
        """The rules in one line, for legends."""
        return (f"fatal: delta >= {self.fatal_delta_pp:g} pp and Holm p < {self.fatal_alpha:g} (or delta >= "
                f"{self.small_group_fatal_delta_pp:g} pp when a side has under {self.small_group} traces); "
                f"benign: in >= {100 * self.benign_success_prevalence:g}% of successes and delta < "
                f"{self.benign_max_delta_pp:g} pp; "
                f"insufficient: under {self.min_per_side} assessed successes or failures; neutral: the rest; "
                f"no prevalence shown when under {self.min_assessed} traces are assessed")

    def verdict(self, n_success: int, n_failed: int, prevalence_success: float | None,
                delta_pp: float | None, p_holm: float | None) -> str:
        if n_success < self.min_per_side or n_failed < self.min_per_side or delta_pp is None:
            return "insufficient"
        if delta_pp >= self.fatal_delta_pp and p_holm is not None and p_holm < self.fatal_alpha:
            return "fatal"
        if min(n_success, n_failed) < self.small_group and delta_pp >= self.small_group_fatal_delta_pp:
            return "fatal"
        if (prevalence_success is not None and prevalence_success >= self.benign_success_prevalence
                and delta_pp < self.benign_max_delta_pp):
            return "benign"
        return "neutral"


DEFAULT_RULES = VerdictRules()


def load_verdict_rules(path: str | Path) -> VerdictRules:
    """Verdict rules from a TOML file of :class:`VerdictRules` fields (a ``[verdict]`` table or top-level
    keys); fields not given keep their defaults. Raises ``ValueError`` naming the file and the problem."""
    table = read_settings(path, "verdict")
    known = {f.name: f.type for f in fields(VerdictRules)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"{path}: unknown verdict rule(s) {', '.join(unknown)}; known: {', '.join(known)}")
    values = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{path}: {key} must be a non-negative number, not {value!r}")
        values[key] = int(value) if known[key] in (int, "int") else float(value)
    return VerdictRules(**values)


def weights_of(weights: np.ndarray | None, rows: int) -> np.ndarray:
    """How many traces each row stands for: ``weights`` (distinct rows with counts), or one each."""
    return np.ones(rows, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)


def _mean_sd(values: np.ndarray, weights: np.ndarray) -> tuple[float | None, float | None]:
    """Mean and sample SD of whole numbers, each ``weights`` times, exactly (integer sums, one rounding)."""
    n = int(weights.sum())
    if n == 0:
        return None, None
    values = values.astype(np.int64)
    s1, s2 = int(weights @ values), int(weights @ (values * values))
    return s1 / n, (math.sqrt(Fraction(n * s2 - s1 * s1, n * (n - 1))) if n > 1 else None)


def category_stats(present: np.ndarray, assessed: np.ndarray, mode_ids: list[str],
                   categories: dict[str, str], weights: np.ndarray | None = None) -> list[CategoryStat]:
    """A category is present when any of its modes is; assessed when any of its modes was assessed."""
    w = weights_of(weights, len(present))
    out = []
    for cat in sorted(set(categories.values())):
        cols = [j for j, m in enumerate(mode_ids) if categories[m] == cat]
        k = int(w @ present[:, cols].any(axis=1))
        n = int(w @ assessed[:, cols].any(axis=1))
        low, high = wilson(np.array([k]), np.array([n]))
        out.append(CategoryStat(id=cat, n_assessed=n, prevalence=num(ratio(k, n)), prevalence_ci=ci(low[0], high[0])))
    return out


def group_stats(name: str, present: np.ndarray, assessed: np.ndarray, success: np.ndarray,
                score: np.ndarray | float | None, mode_ids: list[str], categories: dict[str, str],
                rules: VerdictRules = DEFAULT_RULES, sources: np.ndarray | None = None,
                weights: np.ndarray | None = None) -> GroupStats:
    """Statistics of one group. ``success`` holds 1 / 0 / -1 (unknown) per trace; ``score`` may hold NaN.
    ``sources`` (per trace, :mod:`mastlens.analysis.strata`): when the runs with a known outcome come from
    more than one, each mode's effect and test are the within-source ones (see :func:`stratify_modes`).
    With ``weights`` the rows are distinct vectors standing for that many traces each
    (:mod:`mastlens.analysis.patterns`) and ``score`` is the group's mean score (None: no trace has one)."""
    w = weights_of(weights, len(success))
    ok, failed = success == 1, success == 0
    n, n_ok, n_failed = int(w.sum()), int(w[ok].sum()), int(w[failed].sum())
    per_trace = present.sum(axis=1)
    mean_all, sd_all = _mean_sd(per_trace, w)
    mean_failed, sd_failed = _mean_sd(per_trace[failed], w[failed])
    histogram = (np.bincount(per_trace, weights=w, minlength=1) if n else np.zeros(1)).astype(np.int64)
    histogram_failed = np.bincount(per_trace[failed], weights=w[failed], minlength=len(histogram)).astype(np.int64)
    if weights is None:
        scores = np.asarray(score, dtype=float)
        scores = scores[~np.isnan(scores)]
        mean_score = float(scores.mean()) if len(scores) else None
    else:
        mean_score = score

    wf, wo = w * failed, w * ok
    n_assessed, k_all = w @ assessed, w @ present
    ns, ks = wo @ assessed, wo @ present
    nf, kf = wf @ assessed, wf @ present
    p_all, p_ok, p_failed = ratio(k_all, n_assessed), ratio(ks, ns), ratio(kf, nf)
    ci_all, ci_ok, ci_failed = wilson(k_all, n_assessed), wilson(ks, ns), wilson(kf, nf)

    p_values = [fisher_p(int(kf[j]), int(nf[j] - kf[j]), int(ks[j]), int(ns[j] - ks[j])) for j in range(len(mode_ids))]
    p_holm = holm(p_values)
    modes = []
    for j, mode_id in enumerate(mode_ids):
        delta = num(100 * (p_failed[j] - p_ok[j]))
        lift = num(p_failed[j] / p_ok[j]) if p_ok[j] > 0 else None
        orr = odds_ratio(int(kf[j]), int(nf[j] - kf[j]), int(ks[j]), int(ns[j] - ks[j]))
        modes.append(ModeStat(
            id=mode_id, n_assessed=int(n_assessed[j]), n_not_assessed=int(n - n_assessed[j]),
            prevalence=num(p_all[j]), prevalence_ci=ci(ci_all[0][j], ci_all[1][j]),
            prevalence_success=num(p_ok[j]), prevalence_success_ci=ci(ci_ok[0][j], ci_ok[1][j]),
            prevalence_failed=num(p_failed[j]), prevalence_failed_ci=ci(ci_failed[0][j], ci_failed[1][j]),
            delta_pp=delta, lift=lift,
            odds_ratio=num(orr[0]) if orr else None, odds_ratio_ci=ci(orr[1], orr[2]) if orr else None,
            p_value=p_values[j], p_holm=p_holm[j],
            verdict=("insufficient" if n_assessed[j] < rules.min_assessed
                     else rules.verdict(int(ns[j]), int(nf[j]), num(p_ok[j]), delta, p_holm[j])),
            too_few_assessed=bool(0 < n_assessed[j] < rules.min_assessed),
        ))
    out = GroupStats(
        name=name, n=n, n_failed=n_failed, n_unknown_outcome=n - n_ok - n_failed,
        success_rate=num(ratio(n_ok, n_ok + n_failed)), mean_score=mean_score,
        modes_per_trace=mean_all, modes_per_trace_sd=sd_all,
        modes_per_failed_trace=mean_failed, modes_per_failed_trace_sd=sd_failed,
        modes_histogram={str(i): int(c) for i, c in enumerate(histogram)},
        modes_histogram_failed={str(i): int(c) for i, c in enumerate(histogram_failed)},
        categories=category_stats(present, assessed, mode_ids, categories, w), modes=modes,
    )
    if sources is not None:
        stratify_modes(out, present, assessed, success, np.asarray(sources, dtype=object), rules, w)
    return out


def stratify_modes(group: GroupStats, present: np.ndarray, assessed: np.ndarray, success: np.ndarray,
                   sources: np.ndarray, rules: VerdictRules = DEFAULT_RULES, weights: np.ndarray | None = None) -> None:
    """When ``group``'s runs with a known outcome come from more than one source, replace each mode's
    delta, lift, odds ratio, p values and verdict by the within-source ones (Mantel-Haenszel effects, the
    Cochran-Mantel-Haenszel test, Holm over the modes), keeping the pooled delta, odds ratio and p."""
    w = weights_of(weights, len(success))
    known = success >= 0
    failed = success == 0
    strata = Strata.of(sources[known], failed[known], w[known])
    if not strata.mixed:
        return
    group.stratified = True
    names = [s.source for s in strata.strata]
    group.sources = [SourceOutcome(source=s.source, n=s.n, n_failed=s.n_failed, n_success=s.n_success)
                     for s in strata.strata]
    in_source = np.stack([sources == n for n in names]).astype(np.int64)  # sources x rows
    wf, wo = w * failed, w * (success == 1)
    nf, kf = in_source @ (assessed * wf[:, None]), in_source @ (present * wf[:, None])  # sources x modes
    ns, ks = in_source @ (assessed * wo[:, None]), in_source @ (present * wo[:, None])
    tests = [cmh_test(kf[:, j], nf[:, j], ks[:, j], ns[:, j]) for j in range(present.shape[1])]
    adjusted = holm([t.p_value for t in tests])
    for m, t, p_holm in zip(group.modes, tests, adjusted):
        m.stratified, m.n_strata = True, t.n_strata
        m.delta_pp_pooled, m.odds_ratio_pooled, m.p_value_pooled = m.delta_pp, m.odds_ratio, m.p_value
        m.delta_pp, m.lift, m.odds_ratio, m.odds_ratio_ci = num(t.delta_pp), num(t.risk_ratio), num(t.odds_ratio), \
            t.odds_ratio_ci
        m.p_value, m.p_holm = t.p_value, p_holm
        if not m.too_few_assessed and m.n_assessed >= rules.min_assessed:
            m.verdict = rules.verdict(t.n_success, t.n_failed, m.prevalence_success, m.delta_pp, p_holm)
