"""Logistic regression of success on mode indicators with group fixed effects (statsmodels binomial GLM on
the distinct design rows, the same model and estimates as a per-trace Logit).

Real annotation data often separates: a mode seen only in failed runs has no finite maximum-likelihood
odds ratio. Such terms are left out and named in ``note`` instead of crashing or printing nonsense.
"""

from __future__ import annotations

import warnings

import numpy as np

from mastlens.analysis.proportions import ci, num
from mastlens.analysis.results import Regression, RegressionTerm

INTERCEPT = "(intercept)"
MAX_ABS_LOG_ODDS = 25.0  # beyond an odds ratio of ~7e10 the fit is running off to infinity (separation)
MIN_ASSESSED_SHARE = 0.9


def _separates(x: np.ndarray, y: np.ndarray) -> bool:
    """True when some cell of the 2x2 table of indicator x and outcome y is empty."""
    return bool(min((x & y).sum(), (x & ~y).sum(), (~x & y).sum(), (~x & ~y).sum()) == 0)


def design(present: np.ndarray, assessed: np.ndarray, success: np.ndarray, groups: np.ndarray,
           mode_ids: list[str], weights: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """(X with intercept, y, row weights, term names, notes) after dropping unusable rows and columns.
    ``weights``: how many traces each row stands for (default one)."""
    notes: list[str] = []
    w = np.ones(len(success), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    rows = success >= 0
    share = ((w[rows] @ assessed[rows]) / w[rows].sum() if rows.any()
             else np.ones(len(mode_ids)))  # no outcome: nothing to drop
    modes = [j for j in range(len(mode_ids)) if share[j] >= MIN_ASSESSED_SHARE]
    if len(modes) < len(mode_ids):
        notes.append("left out (assessed in under 90% of traces): "
                      + ", ".join(mode_ids[j] for j in range(len(mode_ids)) if j not in modes))
    rows = rows & assessed[:, modes].all(axis=1)
    y = success[rows] == 1
    g = groups[rows]
    w = w[rows]
    one_sided = [name for name in sorted(set(g.tolist())) if len(set(y[g == name].tolist())) < 2]
    both_outcomes = len(set(y.tolist())) == 2
    if one_sided and both_outcomes and len(set(g.tolist())) > 1:
        if len(one_sided) == len(set(g.tolist())):
            notes.append("every group has a single outcome, so the groups alone separate success from failure")
        notes.append("groups with only one outcome left out: " + ", ".join(map(str, one_sided)))
        keep = ~np.isin(g, one_sided)
        rows_idx = np.flatnonzero(rows)[keep]
        rows = np.zeros_like(rows)
        rows[rows_idx] = True
        y, g, w = y[keep], g[keep], w[keep]
    if len(set(y.tolist())) < 2:  # nothing to fit; per-mode notes would only be noise
        return np.ones((len(y), 1)), y.astype(float), w, [INTERCEPT], notes
    x_modes = present[rows][:, modes]
    columns, names, constant, separating, twins = [np.ones(len(y))], [INTERCEPT], [], [], []
    for k, j in enumerate(modes):
        col = x_modes[:, k]
        twin = next((names[i] for i in range(1, len(columns)) if np.array_equal(columns[i], col)), None)
        if col.all() or not col.any():
            constant.append(mode_ids[j])
        elif _separates(col, y):
            separating.append(mode_ids[j])
        elif twin is not None:  # collinear with a kept mode: its odds ratio is that mode's
            twins.append(f"{mode_ids[j]} (present on exactly the traces of {twin})")
        else:
            columns.append(col.astype(float))
            names.append(mode_ids[j])
    if twins:
        notes.append("left out, indistinguishable: " + ", ".join(twins))
    if constant:
        notes.append("no variation (never or always present): " + ", ".join(constant))
    if separating:
        notes.append("perfect or quasi-perfect separation, no finite odds ratio: " + ", ".join(separating))
    levels = sorted(set(g.tolist()))
    for level in levels[1:]:
        columns.append((g == level).astype(float))
        names.append(f"group={level}")
    x = np.column_stack(columns) if len(y) else np.zeros((0, len(columns)))
    return x, y.astype(float), w, names, notes


def aggregate(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Identical 0/1 design rows merged into one binomial row of (successes, failures).

    The likelihood, estimates and standard errors are those of the per-trace logit; fitting on the distinct
    patterns (a few thousand at most in practice) instead of every trace is what keeps 100,000 traces fast.
    ``weights``: how many traces each row stands for (default one).
    """
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    binary = x[:, 1:]  # after the intercept every column is a 0/1 indicator
    if binary.shape[1] > 62:  # too many to pack into one integer key: one row per trace
        return x, np.column_stack([y * w, (1 - y) * w])
    keys = binary.astype(np.int64) @ (np.int64(1) << np.arange(binary.shape[1], dtype=np.int64))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    successes = np.bincount(inverse, weights=y * w)
    totals = np.bincount(inverse, weights=w)
    return x[first], np.column_stack([successes, totals - successes])


def logistic_regression(present: np.ndarray, assessed: np.ndarray, success: np.ndarray, groups: np.ndarray,
                        mode_ids: list[str], weights: np.ndarray | None = None) -> Regression:
    """``weights``: how many traces each row stands for (default one)."""
    import statsmodels.api as sm

    x, y, w, names, notes = design(present, assessed, success, groups, mode_ids, weights)
    n = int(w.sum())
    n_success = int(w @ y.astype(np.int64)) if len(y) else 0

    def result(note: str | None, terms: list[RegressionTerm] | None = None) -> Regression:
        text = "; ".join([*notes, note] if note else notes) or None
        return Regression(n=n, note=text, terms=terms or [])

    if n == 0 or n_success in (0, n):
        return result("not fitted: needs traces with both outcomes (successes and failures)")
    if not any(name != INTERCEPT and not name.startswith("group=") for name in names):
        # group terms alone say nothing about modes: no table of them
        return result("not fitted: no mode varies without separating the outcome")
    events = min(n_success, n - n_success)
    if n <= len(names) + 1:
        return result(f"not fitted: {n} traces for {len(names)} parameters")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            covariates, outcomes = aggregate(x, y, w)
            start = np.zeros(covariates.shape[1])
            mean = n_success / n
            start[0] = np.log(mean / (1 - mean))  # intercept at the overall log-odds: no IRLS warm start
            fit = sm.GLM(outcomes, covariates, family=sm.families.Binomial()).fit(
                method="newton", maxiter=100, start_params=start)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return result(f"not fitted: {type(exc).__name__}: {exc} (singular design: modes that always co-occur?)")
        except Exception as exc:  # statsmodels raises PerfectSeparationError on older versions
            return result(f"not fitted: {exc}")
    messages = {str(w.message).split("\n")[0] for w in caught}
    diverged = np.abs(fit.params).max() > MAX_ABS_LOG_ODDS
    if not fit.mle_retvals.get("converged", True) or diverged or any("separation" in m.lower() for m in messages):
        return result("not fitted: the fit did not converge (a combination of modes separates success from "
                      "failure); read the per-mode tables instead")
    extra = []
    if events < 10 * (len(names) - 1):
        extra.append(f"only {events} events for {len(names) - 1} terms (fewer than 10 per term): wide intervals")
    bounds = fit.conf_int()
    terms = []
    for k, name in enumerate(names):
        coef, se = float(fit.params[k]), float(fit.bse[k])
        finite = bool(np.isfinite(se) and abs(coef) < 50)
        bounded = finite and bool(np.all(np.abs(bounds[k]) < 700))
        terms.append(RegressionTerm(
            term=name, odds_ratio=num(np.exp(coef)) if finite else None,
            ci=ci(np.exp(bounds[k, 0]), np.exp(bounds[k, 1])) if bounded else None,
            p_value=num(fit.pvalues[k]) if finite else None))
    return result("; ".join(extra) or None, terms)
