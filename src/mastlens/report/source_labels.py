"""The source's own failure labels on a trace: a benchmark's human attribution (Who&When: which agent, at
which step, why) or its judge's verdict (ITBench: justification, ground-truth vs predicted entities).

Read from the trace metadata the adapters keep, for showing beside mastlens' own verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mastlens.trace import Trace


@dataclass
class SourceLabel:
    source: str  # who labelled: "Who&When human label", "ITBench judge (evaluation_results)"
    text: str  # the reason or justification, as the source wrote it
    step: int | None = None  # our step index of the decisive step, when the source names one
    agent: str | None = None
    details: list[tuple[str, str]] = field(default_factory=list)

    @property
    def headline(self) -> str:
        parts = [f"{self.source}:"]
        if self.agent:
            parts.append(f"mistake by {self.agent}")
        if self.step is not None:
            parts.append(f"at step {self.step}")
        return " ".join(parts) if len(parts) > 1 else self.source


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_entity(v) for v in value)
    return str(value)


def _entity(value: Any) -> str:
    """An ITBench entity: a string, or ``{"entity": ..., "matches_gt": ...}``."""
    if isinstance(value, dict) and "entity" in value:
        match = value.get("matches_gt")
        return f"{value['entity']}" + ("" if match is None else (" (matches)" if match else " (no match)"))
    return str(value)


def source_labels(trace: Trace) -> list[SourceLabel]:
    """Every failure label the source recorded on ``trace`` (empty when it recorded none)."""
    labels = []
    attribution = trace.metadata.get("attribution")
    if isinstance(attribution, dict) and any(attribution.get(k) is not None for k in ("mistake_agent", "reason", "step")):
        step = attribution.get("step")
        details = []
        if attribution.get("history_index") is not None:
            details.append(("source's step number", _text(attribution["history_index"])))
        labels.append(SourceLabel(
            source=_text(attribution.get("source")) or "source label", text=_text(attribution.get("reason")),
            step=step if isinstance(step, int) and 0 <= step < len(trace.steps) else None,
            agent=_text(attribution.get("mistake_agent")) or None, details=details,
        ))
    judge = trace.metadata.get("judge")
    if isinstance(judge, dict) and any(k in judge for k in ("justification", "gt_entities", "predicted_entities")):
        details = [(name, _text(judge[key])) for key, name in (("gt_entities", "ground-truth entities"),
                                                               ("predicted_entities", "predicted entities"))
                   if key in judge]
        where = _text(judge.get("source"))
        labels.append(SourceLabel(source=f"ITBench judge ({where})" if where else "ITBench judge",
                                  text=_text(judge.get("justification")), details=details))
    return labels
