"""Which dev-set source and task a stored trace belongs to, and the build/validate halves of a store.

The unit of the split is the task (:mod:`devsplit`): all trials of a tau-bench or tau2 task, all runs of a
SWE-bench instance, one Who&When record, one MAST-Data trace fall on the same side. Sources are named
``tau-bench`` (per domain: ``tau-bench airline``), ``tau2``, ``swe-bench``, ``who&when`` and ``mast-data``.
"""

from __future__ import annotations

from dataclasses import dataclass

from devsplit import in_split

from mastlens.store import Store
from mastlens.trace import Trace

# Sources whose runs carry an outcome (figures: AUROC, flag rates) and those carrying human labels.
OUTCOME_SOURCES = ("tau-bench", "tau2", "swe-bench")
LABEL_SOURCES = ("who&when", "mast-data")


@dataclass(frozen=True)
class Origin:
    """Where a dev-set trace comes from: its source, the group it is reported under, and its task."""

    source: str  # the name the split is keyed on
    group: str  # the line it is reported on (a source, or a source and its domain)
    task: str


def _meta(trace: Trace, *keys: str) -> str | None:
    for key in keys:
        value = trace.metadata.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def origin_of(trace: Trace) -> Origin | None:
    """The dev-set origin of a trace, from the format its reader recorded; None for other traces."""
    fmt = trace.source.format
    if fmt == "tau":
        domain = _meta(trace, "environment", "domain") or "unknown"
        return Origin("tau-bench", f"tau-bench {domain}", f"{domain}/{_meta(trace, 'task_id')}")
    if fmt == "tau2":
        domain = _meta(trace, "domain", "environment") or "unknown"
        return Origin("tau2", f"tau2 {domain}", f"{domain}/{_meta(trace, 'task_id')}")
    if fmt in ("mini-swe-agent", "mini-swe-agent-run"):
        instance = _meta(trace, "instance_id") or trace.task or trace.id
        return Origin("swe-bench", "swe-bench", instance)
    if fmt == "whowhen":
        return Origin("who&when", "who&when", trace.id)
    if fmt == "mad":
        return Origin("mast-data", "mast-data", trace.id)
    return None


def origins(store: Store) -> dict[str, Origin]:
    """trace id -> origin, for every stored dev-set trace."""
    out = {}
    for trace in store.iter_traces():
        origin = origin_of(trace)
        if origin is not None:
            out[trace.id] = origin
    return out


def ids_by_group(store: Store, split: str | None, *, by: str = "group",
                 known: dict[str, Origin] | None = None) -> dict[str, set[str]]:
    """Trace ids of ``split`` (build, validate, all/None) per reporting group (``by="source"``: per source)."""
    out: dict[str, set[str]] = {}
    for trace_id, origin in (known if known is not None else origins(store)).items():
        if in_split(origin.source, origin.task, split):
            out.setdefault(getattr(origin, by), set()).add(trace_id)
    return dict(sorted(out.items()))
