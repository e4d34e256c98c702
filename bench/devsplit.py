"""The build/validate split of the dev sets, by task.

Every bench that measures a judge on ``../shared/devsets`` uses this one function, so that detectors and prompts are
designed on build runs only and every reported figure is a validation figure. The unit is the task, never the run:
all trials of a tau-bench task, all runs of a SWE-bench instance, one Who&When record, one MAST-Data trace fall on the
same side. The assignment is a keyed hash of (source, task), so it is stable whatever else a dev set holds.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["build", "validate"]
SPLITS: tuple[Split, ...] = ("build", "validate")
_SALT = "mastlens-devsplit-1"


def split_of(source: str, task: str) -> Split:
    """The half a task of a dev-set source belongs to (``source`` e.g. ``tau-bench``, ``swe-bench``, ``who&when``)."""
    digest = hashlib.sha256(f"{_SALT}|{source}|{task}".encode()).digest()
    return "build" if digest[0] % 2 == 0 else "validate"


def in_split(source: str, task: str, split: str | None) -> bool:
    """Whether a task is in ``split`` (``None`` or ``all``: every task)."""
    return split in (None, "all") or split_of(source, task) == split
