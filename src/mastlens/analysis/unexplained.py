"""Unexplained failures: failed traces with no mode found present, and what was not assessed on them."""

from __future__ import annotations

import numpy as np

from mastlens.analysis.results import UnexplainedFailures

EXAMPLES = 5


def unexplained_failures(present: np.ndarray, assessed: np.ndarray, failed: np.ndarray, ids: np.ndarray,
                         mode_ids: list[str]) -> UnexplainedFailures:
    """Count the failed traces (rows) with no present mode; per mode, how many of them did not assess it."""
    rows = failed & ~present.any(axis=1) if present.size else failed.copy()
    n, n_failed = int(rows.sum()), int(failed.sum())
    missing = (~assessed[rows]).sum(axis=0) if n and assessed.size else np.zeros(len(mode_ids), dtype=int)
    return UnexplainedFailures(
        n=n, share_of_failed=n / n_failed if n_failed else None,
        trace_ids=[str(t) for t in ids[rows][:EXAMPLES]],
        not_assessed={m: int(missing[j]) for j, m in enumerate(mode_ids) if missing[j]},
    )
