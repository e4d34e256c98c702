"""The confidence of a present rules verdict: its detector's precision on the dev sets' validation runs.

``precision.json`` (beside this module) holds, per mode, how often a validation run the rules flagged with it
really went wrong (a failed run, or a MAST-Data run its annotators labelled with the mode), with the counts
behind it and each source's failure rate. The judge stores that precision as the present verdict's
``confidence`` (``mode_annotations.confidence``); a mode the rules never flagged on validation runs gets no
confidence (None: unmeasured). Absent verdicts keep the detector's own hand-set confidence.

Regenerate after changing a detector: ``python bench/bench_fidelity.py --split validate --write-precision``
(``bench/_fidelity_precision.py`` says how each figure is counted).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PRECISION_FILE = Path(__file__).with_name("precision.json")


@lru_cache(maxsize=1)
def precision_table() -> dict[str, Any]:
    """The packaged table (empty when the file is missing or unreadable: no measured confidences)."""
    try:
        return json.loads(PRECISION_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def measured_precision(mode_id: str) -> float | None:
    """The validation precision of the rules' detector for ``mode_id``, or None when never measured."""
    entry = precision_table().get("modes", {}).get(mode_id)
    return float(entry["precision"]) if entry else None
