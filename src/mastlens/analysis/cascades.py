"""How modes travel together: co-occurrence (counts, phi, P(B|A)) and first-onset order.

Onsets are the earliest evidence step of a present mode, so only localized modes take part in the order.
"""

from __future__ import annotations

import numpy as np

from mastlens.analysis.proportions import num
from mastlens.analysis.results import Cooccurrence, FirstOnset, Precedence


def cooccurrence(group: str, present: np.ndarray, assessed: np.ndarray, mode_ids: list[str],
                 weights: np.ndarray | None = None) -> list[Cooccurrence]:
    """Ordered pairs (a, b) seen together at least once, counted on traces where both were assessed.
    ``weights``: how many traces each row stands for (default one)."""
    x = present.astype(float)  # float products go through BLAS; counts stay exact far below 2**53
    v = assessed.astype(float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    xw, vw = x * w[:, None], v * w[:, None]
    n11 = (x.T @ xw).round().astype(np.int64)   # both present
    n1_ = (x.T @ vw).round().astype(np.int64)   # a present, b assessed
    n_1 = n1_.T                                 # a assessed, b present
    both = (v.T @ vw).round().astype(np.int64)  # both assessed
    n0_ = both - n1_
    n_0 = both - n_1
    n00 = both - n1_ - n_1 + n11
    n10, n01 = n1_ - n11, n_1 - n11
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = (n11 * n00 - n10 * n01) / np.sqrt(n1_.astype(float) * n0_ * n_1 * n_0)
        cond = n11 / n1_.astype(float)
    out = []
    for i, a in enumerate(mode_ids):
        for j, b in enumerate(mode_ids):
            if i != j and n11[i, j] > 0:
                out.append(Cooccurrence(group=group, a=a, b=b, n_both=int(n11[i, j]),
                                        phi=num(phi[i, j]), p_b_given_a=num(cond[i, j])))
    return out


def precedence(group: str, onset: np.ndarray, mode_ids: list[str]) -> list[Precedence]:
    """For each pair present and localized together: which mode more often shows first, and how often.

    Ties (same step) count in ``n_both_localized`` but for neither side.
    """
    localized = ~np.isnan(onset)
    m = len(mode_ids)
    before, after, both = (np.zeros((m, m), dtype=np.int64) for _ in range(3))
    for i in range(m):
        rows = onset[localized[:, i]]  # traces where mode i is localized; NaN compares False below
        before[i] = (rows[:, [i]] < rows).sum(axis=0)
        after[i] = (rows[:, [i]] > rows).sum(axis=0)
        both[i] = (~np.isnan(rows)).sum(axis=0)
    return precedence_from_counts(group, before, after, both, mode_ids)


def precedence_from_counts(group: str, before: np.ndarray, after: np.ndarray, both: np.ndarray,
                           mode_ids: list[str]) -> list[Precedence]:
    """:func:`precedence` from its counts: for i < j, traces where both are localized (``both[i, j]``) and
    where i shows first (``before[i, j]``) or second (``after[i, j]``)."""
    out = []
    for i in range(len(mode_ids)):
        for j in range(i + 1, len(mode_ids)):
            n_both = int(both[i, j])
            if n_both == 0:
                continue
            (first, count), (second, other) = sorted([(i, int(before[i, j])), (j, int(after[i, j]))],
                                                     key=lambda x: -x[1])
            out.append(Precedence(group=group, first=mode_ids[first], second=mode_ids[second],
                                  n_both_localized=n_both, share_first=count / n_both, share_second=other / n_both))
    return out


def first_onsets(group: str, onset: np.ndarray, failed: np.ndarray, mode_ids: list[str]) -> list[FirstOnset]:
    """Modes that open failed traces: how often each is (one of) the earliest localized modes."""
    rows = onset[failed]
    rows = rows[~np.isnan(rows).all(axis=1)] if len(rows) else rows
    if len(rows) == 0:
        return []
    earliest = np.nanmin(rows, axis=1)
    return first_onsets_from_counts(group, (rows == earliest[:, None]).sum(axis=0), len(rows), mode_ids)


def first_onsets_from_counts(group: str, counts: np.ndarray, n_rows: int, mode_ids: list[str]) -> list[FirstOnset]:
    """:func:`first_onsets` from its counts: per mode the failed traces it opens, of ``n_rows`` failed traces
    with a localized mode."""
    if n_rows == 0:
        return []
    order = sorted(range(len(mode_ids)), key=lambda j: (-counts[j], mode_ids[j]))
    return [FirstOnset(group=group, mode=mode_ids[j], n_first=int(counts[j]), share=int(counts[j]) / n_rows)
            for j in order if counts[j] > 0]
