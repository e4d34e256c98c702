"""Confidence thresholds applied to verdict statuses (``--calibration``; see :mod:`mastlens.analysis.calibration`)."""

from __future__ import annotations

import numpy as np


def apply_thresholds(status: np.ndarray, conf: np.ndarray, mode_ids: list[str],
                     thresholds: dict[str, float]) -> tuple[np.ndarray, dict[str, int]]:
    """``status`` (traces x modes: -1 / 0 / 1) with every present verdict whose confidence is below its mode's
    threshold turned absent; and how many per mode. A present verdict without a confidence stays present."""
    out = status.copy()
    demoted: dict[str, int] = {}
    for j, mode_id in enumerate(mode_ids):
        t = thresholds.get(mode_id)
        if t is None:
            continue
        below = (out[:, j] == 1) & (conf[:, j] < t)
        out[below, j] = 0
        if below.any():
            demoted[mode_id] = int(below.sum())
    return out, demoted
