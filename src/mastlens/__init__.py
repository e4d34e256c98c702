"""mastlens: find out why LLM agents fail, with the MAST failure taxonomy.

The public API is small: read traces, keep them in a store, judge them, analyze the verdicts.
Names are imported on first use, so ``import mastlens`` (and every CLI command) loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "load_traces": "mastlens.adapters.loader",
    "Store": "mastlens.store",
    "ingest": "mastlens.store.ingest",
    "Mode": "mastlens.taxonomy", "Taxonomy": "mastlens.taxonomy", "load_taxonomy": "mastlens.taxonomy",
    "failure_vectors": "mastlens.analysis",  # the analysis stack (scipy, statsmodels) is slow to import
    **{name: "mastlens.trace" for name in (
        "Annotation", "Evidence", "ModeStatus", "ModeVerdict", "Outcome", "Source", "Step", "StepKind",
        "SuccessRule", "Trace", "Verdict")},
}

if TYPE_CHECKING:
    from mastlens.adapters.loader import load_traces
    from mastlens.analysis import failure_vectors
    from mastlens.store import Store
    from mastlens.store.ingest import ingest
    from mastlens.taxonomy import Mode, Taxonomy, load_taxonomy
    from mastlens.trace import (
        Annotation, Evidence, ModeStatus, ModeVerdict, Outcome, Source, Step, StepKind, SuccessRule, Trace, Verdict,
    )


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mastlens' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "Annotation", "Evidence", "Mode", "ModeStatus", "ModeVerdict", "Outcome", "Source", "Step", "StepKind",
    "Store", "SuccessRule", "Taxonomy", "Trace", "Verdict", "failure_vectors", "ingest", "load_taxonomy", "load_traces",
]
