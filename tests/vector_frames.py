"""Failure-vector frames built by hand for the statistics tests (the shape ``failure_vectors`` returns)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mastlens.analysis.vectors import onset_column
from mastlens.taxonomy import load_taxonomy

MODE_IDS = load_taxonomy().ids


def vectors_frame(status: np.ndarray, success: list[bool | None], *, groups: list[str] | None = None,
                  scores: list[float | None] | None = None, onsets: np.ndarray | None = None,
                  sources: list[str] | None = None) -> pd.DataFrame:
    """``status``: traces x 14 modes, 1 present / 0 absent / -1 not assessed; ``onsets``: step or NaN;
    ``sources``: each trace's source (default: one source for all)."""
    status = np.asarray(status)
    n = len(status)
    data = {
        "id": [f"t{i}" for i in range(n)],
        "model": groups or ["m"] * n,
        "system": [None] * n,
        "task": [None] * n,
        "format": ["native"] * n,
        "source": sources or ["native"] * n,
        "success": pd.array(success, dtype="boolean"),
        "score": pd.array(scores or [None] * n, dtype="Float64"),
    }
    for j, mode_id in enumerate(MODE_IDS):
        data[mode_id] = pd.array([None if v < 0 else bool(v) for v in status[:, j]], dtype="boolean")
    for j, mode_id in enumerate(MODE_IDS):
        data[onset_column(mode_id)] = onsets[:, j] if onsets is not None else np.full(n, np.nan)
    df = pd.DataFrame(data)
    df.attrs["modes"] = list(MODE_IDS)
    return df


def status_with(n: int, cells: dict[str, list[int]]) -> np.ndarray:
    """An all-absent status matrix with the listed modes present on the listed rows."""
    status = np.zeros((n, len(MODE_IDS)), dtype=np.int8)
    for mode_id, rows in cells.items():
        status[rows, MODE_IDS.index(mode_id)] = 1
    return status
