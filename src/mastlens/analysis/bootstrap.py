"""Seeded percentile bootstrap helpers shared by agreement, localization and fidelity figures."""

from __future__ import annotations

import numpy as np

BOOTSTRAP_ROUNDS = 1000
SEED = 20250
_CHUNK = 2_000_000  # bootstrap weights per chunk (rounds x traces)


def bootstrap_sums(indicators: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    """Resampled sums of per-trace indicator columns: shape (rounds, columns)."""
    rng = np.random.default_rng(seed)
    n = indicators.shape[0]
    out = np.zeros((rounds, indicators.shape[1]))
    if n == 0:
        return out
    step = max(1, _CHUNK // n)
    for start in range(0, rounds, step):
        size = min(step, rounds - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size)
        out[start:start + size] = weights @ indicators
    return out
