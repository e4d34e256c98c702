"""Statistics for two runs of an agent: paired (McNemar exact, Newcombe's paired score interval, paired t)
and unpaired (Welch) figures, vectorized over modes; and pairing traces of the same task across runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from mastlens.analysis.proportions import Z95, ci, ratio, wilson


def mcnemar_exact(lost: np.ndarray, gained: np.ndarray) -> np.ndarray:
    """Two-sided exact McNemar p per entry from the discordant counts (the binomial test of ``lost`` of
    ``lost + gained`` at 1/2, as ``statsmodels.stats.contingency_tables.mcnemar(exact=True)``)."""
    lost = np.asarray(lost, dtype=float)
    gained = np.asarray(gained, dtype=float)
    p = 2 * sps.binom.cdf(np.minimum(lost, gained), lost + gained, 0.5)
    return np.minimum(1.0, p)


def newcombe_paired(both: np.ndarray, lost: np.ndarray, gained: np.ndarray, neither: np.ndarray,
                    z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p_new - p_base for paired binary data with Newcombe's (1998) hybrid score interval (method 10).

    Cells per pair: ``both`` present on both sides, ``lost`` present in BASE only, ``gained`` present in NEW
    only, ``neither``. The two Wilson intervals are combined with the correlation phi of the 2x2 table
    (0 where a margin is empty), so with phi = 0 it is the independent-samples Newcombe interval.
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (both, lost, gained, neither))
    n = a + b + c + d
    p_new, p_base = ratio(a + c, n), ratio(a + b, n)
    l_new, u_new = wilson(a + c, n, z)
    l_base, u_base = wilson(a + b, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(margins > 0, (a * d - b * c) / np.sqrt(margins), 0.0)
    diff = p_new - p_base
    down = (p_new - l_new) ** 2 - 2 * phi * (p_new - l_new) * (u_base - p_base) + (u_base - p_base) ** 2
    up = (u_new - p_new) ** 2 - 2 * phi * (u_new - p_new) * (p_base - l_base) + (p_base - l_base) ** 2
    low = np.clip(diff - np.sqrt(np.maximum(down, 0.0)), -1.0, 1.0)
    high = np.clip(diff + np.sqrt(np.maximum(up, 0.0)), -1.0, 1.0)
    return diff, low, high


def mean_ci(values: np.ndarray) -> tuple[float, float] | None:
    """Student t 95% interval of the mean; None under two values."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return None
    mean, sem = float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
    if sem == 0:
        return mean, mean
    half = float(sps.t.ppf(0.975, len(values) - 1)) * sem
    return ci(mean - half, mean + half)


def welch_diff(base: np.ndarray, new: np.ndarray) -> tuple[float | None, tuple[float, float] | None, float | None]:
    """mean(new) - mean(base) with Welch's 95% interval and p (NaNs dropped)."""
    base, new = base[~np.isnan(base)], new[~np.isnan(new)]
    if len(base) < 2 or len(new) < 2:
        return None, None, None
    diff = float(new.mean() - base.mean())
    vb, vn = base.var(ddof=1) / len(base), new.var(ddof=1) / len(new)
    se = float(np.sqrt(vb + vn))
    if se == 0:
        return diff, (diff, diff), (1.0 if diff == 0 else 0.0)
    dof = (vb + vn) ** 2 / (vb ** 2 / (len(base) - 1) + vn ** 2 / (len(new) - 1))
    half = float(sps.t.ppf(0.975, dof)) * se
    p = float(2 * sps.t.sf(abs(diff) / se, dof))
    return diff, ci(diff - half, diff + half), p


def paired_t_diff(base: np.ndarray, new: np.ndarray) -> tuple[float | None, tuple[float, float] | None, float | None]:
    """Mean of (new - base) over pairs with both values, its t interval and the paired t test's p."""
    keep = ~(np.isnan(base) | np.isnan(new))
    delta = new[keep] - base[keep]
    if len(delta) < 2:
        return None, None, None
    mean = float(delta.mean())
    sd = float(delta.std(ddof=1))
    if sd == 0:
        return mean, (mean, mean), (1.0 if mean == 0 else 0.0)
    interval = mean_ci(delta)
    p = float(2 * sps.t.sf(abs(mean) / (sd / np.sqrt(len(delta))), len(delta) - 1))
    return mean, interval, p


def _ranked(codes: np.ndarray, ids: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept rows in (key, id) order with their rank among the rows of their key."""
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((ids[rows], codes[rows]))]
    ordered = codes[rows]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(rows)), 0)) if len(rows) else rows
    return rows, ordered, np.arange(len(rows)) - first


def _complement(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[rows] = False
    return np.flatnonzero(mask)


def pair_rows(base_keys: np.ndarray, base_ids: np.ndarray, new_keys: np.ndarray, new_ids: np.ndarray,
              missing: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Match the rows of two runs on a key (``missing`` marks rows without one, never matched).

    Several rows with one key in a run are paired in trace-id order (1st with 1st, ...). Returns
    (base row index, new row index) of each pair in key order, the unmatched base and new row indexes, and
    how many keys had several rows in a run.
    """
    keys = np.concatenate([np.asarray(base_keys, dtype=object), np.asarray(new_keys, dtype=object)]).astype(str)
    codes, _ = pd.factorize(keys, sort=True)
    nb = len(base_keys)
    keep = keys != missing
    rb, kb, rank_b = _ranked(codes[:nb], np.asarray(base_ids).astype(str), keep[:nb])
    rn, kn, rank_n = _ranked(codes[nb:], np.asarray(new_ids).astype(str), keep[nb:])
    width = int(max(rank_b.max(initial=0), rank_n.max(initial=0))) + 1
    _, ib, in_ = np.intersect1d(kb.astype(np.int64) * width + rank_b, kn.astype(np.int64) * width + rank_n,
                                assume_unique=True, return_indices=True)
    repeated = len(set(kb[rank_b > 0].tolist()) | set(kn[rank_n > 0].tolist()))
    return rb[ib], rn[in_], _complement(nb, rb[ib]), _complement(len(new_keys), rn[in_]), repeated
