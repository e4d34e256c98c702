"""Two groups side by side: per-mode prevalence difference (Newcombe CI), Fisher p and Holm across modes."""

from __future__ import annotations

import numpy as np

from mastlens.analysis.proportions import ci, fisher_p, holm, newcombe_diff, num
from mastlens.analysis.results import Comparison


def compare_groups(a: str, b: str, present: np.ndarray, assessed: np.ndarray, groups: np.ndarray,
                   mode_ids: list[str], weights: np.ndarray | None = None) -> list[Comparison]:
    """``diff`` = prevalence in ``a`` minus prevalence in ``b`` (each over its assessed traces).
    ``weights``: how many traces each row stands for (default one)."""
    known = sorted(set(groups.tolist()))
    for name in (a, b):
        if name not in known:
            raise ValueError(f"no group {name!r} to compare (groups: {', '.join(map(str, known)) or 'none'})")
    w = np.ones(len(groups), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    in_a, in_b = w * (groups == a), w * (groups == b)
    na, ka = in_a @ assessed, in_a @ present
    nb, kb = in_b @ assessed, in_b @ present
    diff, low, high = newcombe_diff(ka, na, kb, nb)
    p_values = [fisher_p(int(ka[j]), int(na[j] - ka[j]), int(kb[j]), int(nb[j] - kb[j]))
                for j in range(len(mode_ids))]
    p_holm = holm(p_values)
    return [Comparison(a=a, b=b, mode=m, diff=num(diff[j]), diff_ci=ci(low[j], high[j]),
                       p_value=p_values[j], p_holm=p_holm[j]) for j, m in enumerate(mode_ids)]
