"""Unexplained failures: failed traces with no mode found present, and what was not assessed on them."""

from __future__ import annotations

import numpy as np

from mastlens.analysis.results import UnexplainedFailures

EXAMPLES = 5


def unexplained_failures(present: np.ndarray, assessed: np.ndarray, failed: np.ndarray, ids: np.ndarray | list[str],
                         mode_ids: list[str], weights: np.ndarray | None = None) -> UnexplainedFailures:
    """Count the failed traces (rows) with no present mode; per mode, how many of them did not assess it.
    ``ids``: per row its trace id; with ``weights`` (rows standing for that many traces each) the example
    ids themselves, already chosen (:mod:`mastlens.analysis.patterns`)."""
    w = np.ones(len(failed), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    rows = failed & ~present.any(axis=1) if present.size else failed.copy()
    n, n_failed = int(w[rows].sum()), int(w[failed].sum())
    missing = w[rows] @ ~assessed[rows] if n and assessed.size else np.zeros(len(mode_ids), dtype=int)
    examples = list(ids) if weights is not None else np.asarray(ids)[rows]
    return UnexplainedFailures(
        n=n, share_of_failed=n / n_failed if n_failed else None,
        trace_ids=[str(t) for t in examples[:EXAMPLES]],
        not_assessed={m: int(missing[j]) for j, m in enumerate(mode_ids) if missing[j]},
    )
