"""Small, exact building blocks: Wilson intervals, Newcombe differences, odds ratios, Fisher, Holm.

Each works on numpy arrays (one entry per mode) so a group's 14 modes are computed at once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, logsumexp
from scipy.stats import norm

Z95 = float(norm.ppf(0.975))


def wilson(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes of n; NaN where n == 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        center = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = np.where(n > 0, np.clip(center - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(center + half, 0.0, 1.0), np.nan)
    return low, high


def ratio(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """k / n, NaN where n == 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, k / n, np.nan)


def newcombe_diff(k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray,
                  z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p1 - p2 with Newcombe's hybrid score interval (built from the two Wilson intervals)."""
    p1, p2 = ratio(k1, n1), ratio(k2, n2)
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def odds_ratio(a: int, b: int, c: int, d: int, z: float = Z95) -> tuple[float, float, float] | None:
    """Odds ratio of the table [[a, b], [c, d]] = (a/b) / (c/d) with a Woolf (log) 95% CI.

    0.5 is added to every cell only when some cell is 0 (Haldane-Anscombe). None when a row or a column is
    empty (e.g. a mode never seen in the group): the table then carries no information about association.
    """
    if a + b == 0 or c + d == 0 or a + c == 0 or b + d == 0:
        return None
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return math.exp(log_or), math.exp(log_or - z * se), math.exp(log_or + z * se)


def fisher_p(a: int, b: int, c: int, d: int) -> float | None:
    """Two-sided Fisher exact p of [[a, b], [c, d]]; None when a row is empty.

    The sum of the hypergeometric probabilities of every table with the same margins that is no more likely
    than the observed one (ties within a relative 1e-7, as R's fisher.test), over the whole support at once:
    the same p as ``scipy.stats.fisher_exact`` without its per-point calls, which dominate on large groups.
    """
    if a + b == 0 or c + d == 0:
        return None
    if a + c == 0 or b + d == 0:
        return 1.0
    n1, n2, n = a + b, c + d, a + c
    low, high = _support(n1, n2, n, a)
    x = np.arange(low, high + 1, dtype=float)
    log_p = _log_choose(n1, x) + _log_choose(n2, n - x)
    tail = log_p <= log_p[a - low] + _TIE
    return float(min(1.0, math.exp(logsumexp(log_p[tail]) - logsumexp(log_p))))


_TIE = math.log1p(1e-7)
_NEGLIGIBLE = 800.0  # log-probability this far below the observed table's: exp() of it is exactly 0.0
_WIDE = 4096  # supports narrower than this are summed whole


def _support(n1: int, n2: int, n: int, a: int) -> tuple[int, int]:
    """The tables worth summing: the whole support, or on a wide one (groups of millions of traces) the
    interval where the log-probability is within :data:`_NEGLIGIBLE` of the observed table's. The
    hypergeometric is log-concave, so that set is an interval around the mode and everything outside it adds
    exactly 0.0 to both sums (its exp() underflows): the p value is unchanged, at the cost of the interval."""
    low, high = max(0, n - n2), min(n1, n)
    if high - low <= _WIDE:
        return low, high

    def log_p(x: int) -> float:
        return float(_log_choose(n1, np.array(float(x))) + _log_choose(n2, np.array(float(n - x))))

    level = log_p(a) - _NEGLIGIBLE
    mode = min(high, max(low, (n + 1) * (n1 + 1) // (n1 + n2 + 2)))

    def edge(inside: int, outside: int) -> int:  # the last x from ``inside`` towards ``outside`` above level
        if log_p(outside) >= level:
            return outside
        while abs(outside - inside) > 1:
            middle = (inside + outside) // 2
            inside, outside = (middle, outside) if log_p(middle) >= level else (inside, middle)
        return inside

    return min(a, edge(mode, low)), max(a, edge(mode, high))


def _log_choose(n: int, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the defined entries (None stays None); the step-down of
    ``statsmodels.stats.multitest.multipletests(method="holm")``, without its per-call garbage collection."""
    idx = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    out: list[float | None] = [None] * len(p_values)
    if not idx:
        return out
    p = np.array([p_values[i] for i in idx], dtype=float)
    order = np.argsort(p, kind="stable")
    steps = len(p) - np.arange(len(p))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps * p[order]))
    for i, value in zip(idx, adjusted):
        out[i] = float(value)
    return out


def num(x: float | np.floating | None) -> float | None:
    """A plain float, or None for NaN / infinity / None (JSON-safe)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def ci(low: float | None, high: float | None) -> tuple[float, float] | None:
    lo, hi = num(low), num(high)
    return None if lo is None or hi is None else (lo, hi)
